"""Opportunities through the API: stages and their history, the pipeline's totals and weighted
values, the sales record rule, quotes of a deal (accepting one voids the others and wins it)
and losing a deal with a reason (its open quotes cancelled through their workflows)."""

from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from conveyor.audit.models import AuditEntry
from tests.conftest import RULES
from tests.utils.api import (
    auth,
    create_customer,
    create_employee,
    create_product,
    wait_for_open_task,
    wait_for_order,
)
from tests.utils.opportunity import create_opportunity, place_quote


@pytest.fixture
def rules_dir() -> Path:
    """The quote step is a task for sales (a rep accepts it by completing it)."""
    return RULES / "quote_task"


def _stage(pipeline: dict, stage: str) -> dict:
    return next(row for row in pipeline["stages"] if row["stage"] == stage)


def _actions(engine: Engine, number: str) -> list[str]:
    with Session(engine) as session:
        query = (
            select(AuditEntry)
            .where(AuditEntry.entity == "opportunity")
            .where(AuditEntry.entity_id == number)
            .order_by(col(AuditEntry.id))
        )
        return [entry.action for entry in session.exec(query)]


async def test_stages_history_and_pipeline_totals(api: httpx.AsyncClient, engine: Engine) -> None:
    rep = await create_employee(api, ["sales"], clearance=3)
    other = await create_employee(api, ["sales"], clearance=3)
    customer = await create_customer(api)
    first = await create_opportunity(
        api, customer["id"], title="Forklifts", value="1000.00", owner_id=rep["id"]
    )
    second = await create_opportunity(
        api,
        customer["id"],
        title="Racking",
        value="2500.50",
        stage="proposal",
        probability=40,
        owner_id=other["id"],
    )
    third = await create_opportunity(
        api, customer["id"], title="Scanners", value="999.99", stage="negotiation"
    )
    assert first["number"].startswith("OPP-") and first["stage"] == "prospecting"
    assert first["probability"] == 10 and first["weighted_value"] == "100.00"
    assert third["owner_id"] is None  # the admin token is nobody's employee
    assert [h["to_stage"] for h in first["history"]] == ["prospecting"]

    pipeline = (await api.get("/api/opportunities/pipeline")).json()
    assert [row["stage"] for row in pipeline["stages"]] == [
        "prospecting",
        "qualification",
        "proposal",
        "negotiation",
        "won",
        "lost",
    ]
    assert _stage(pipeline, "prospecting") == {
        "stage": "prospecting",
        "currency": "USD",
        "count": 1,
        "total": "1000.00",
        "weighted": "100.00",
    }
    assert (_stage(pipeline, "proposal")["total"], _stage(pipeline, "proposal")["weighted"]) == (
        "2500.50",
        "1000.20",
    )
    # 999.99 x 75 % = 749.9925, rounded once per deal
    assert _stage(pipeline, "negotiation")["weighted"] == "749.99"
    assert _stage(pipeline, "qualification")["count"] == 0
    owners = {row["owner_id"]: row for row in pipeline["owners"]}
    assert owners[rep["id"]]["count"] == 1 and owners[other["id"]]["weighted"] == "1000.20"
    assert owners[None]["total"] == "999.99"
    mine = (await api.get("/api/opportunities/pipeline", params={"owner_id": rep["id"]})).json()
    assert [(r["stage"], r["count"]) for r in mine["stages"] if r["count"]] == [("prospecting", 1)]

    moved = await api.post(
        f"/api/opportunities/{first['number']}/stage",
        json={"stage": "qualification", "note": "budget confirmed"},
    )
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert (body["stage"], body["probability"], body["weighted_value"]) == (
        "qualification",
        25,
        "250.00",
    )
    assert [(h["from_stage"], h["to_stage"], h["note"]) for h in body["history"]] == [
        (None, "prospecting", "created"),
        ("prospecting", "qualification", "budget confirmed"),
    ]
    same = await api.post(
        f"/api/opportunities/{first['number']}/stage", json={"stage": "qualification"}
    )
    assert same.status_code == 409
    lost = await api.post(f"/api/opportunities/{first['number']}/stage", json={"stage": "lost"})
    assert lost.status_code == 422 and "reason" in lost.json()["detail"]
    edited = await api.patch(
        f"/api/opportunities/{first['number']}",
        json={"value": "1200.00", "expected_close": "2027-01-31"},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["weighted_value"] == "300.00"

    won = await api.post(f"/api/opportunities/{second['number']}/stage", json={"stage": "won"})
    assert won.status_code == 200 and won.json()["probability"] == 100
    closed = await api.patch(f"/api/opportunities/{second['number']}", json={"value": "1.00"})
    assert closed.status_code == 409
    pipeline = (await api.get("/api/opportunities/pipeline")).json()
    assert (_stage(pipeline, "won")["count"], _stage(pipeline, "won")["weighted"]) == (
        1,
        "2500.50",
    )
    assert _stage(pipeline, "qualification")["weighted"] == "300.00"
    assert other["id"] not in {row["owner_id"] for row in pipeline["owners"]}  # won: not open

    listed = (await api.get("/api/opportunities", params={"stage": "qualification"})).json()
    assert [o["number"] for o in listed["data"]] == [first["number"]]
    assert _actions(engine, first["number"]) == [
        "opportunity.create",
        "opportunity.stage",
        "opportunity.update",
    ]
    assert _actions(engine, second["number"])[-1] == "opportunity.won"
    assert Decimal(edited.json()["value"]) == Decimal("1200.00")


async def test_reps_below_clearance_3_see_their_own_accounts_only(
    api: httpx.AsyncClient,
) -> None:
    owner = await create_employee(api, ["sales"], clearance=2)
    stranger = await create_employee(api, ["sales"], clearance=2)
    customer = await create_customer(api, account_rep_id=owner["id"])
    deal = await create_opportunity(api, customer["id"], headers=auth(owner))
    assert deal["owner_id"] == owner["id"]  # the rep who records it owns it
    number = deal["number"]
    assert (await api.get(f"/api/opportunities/{number}", headers=auth(owner))).status_code == 200
    hidden = await api.get(f"/api/opportunities/{number}", headers=auth(stranger))
    assert hidden.status_code == 404
    listed = (await api.get("/api/opportunities", headers=auth(stranger))).json()
    assert listed["count"] == 0
    pipeline = (await api.get("/api/opportunities/pipeline", headers=auth(stranger))).json()
    assert sum(row["count"] for row in pipeline["stages"]) == 0
    refused = await api.post(
        "/api/opportunities",
        json={"customer_id": customer["id"], "title": "Mine now", "value": "5.00"},
        headers=auth(stranger),
    )
    assert refused.status_code == 422
    desk = await create_employee(api, ["order_desk"], clearance=5)
    may_not = await api.post(
        f"/api/opportunities/{number}/stage", json={"stage": "proposal"}, headers=auth(desk)
    )
    assert may_not.status_code == 403
    assert (await api.get(f"/api/opportunities/{number}", headers=auth(desk))).status_code == 200


async def test_accepting_one_quote_voids_the_other_and_wins_the_deal(
    api: httpx.AsyncClient, worker, engine: Engine
) -> None:
    product = await create_product(api, on_hand=50, price="10.00")
    customer = await create_customer(api)
    deal = await create_opportunity(api, customer["id"], title="Two options", value="150.00")
    small = await place_quote(api, deal, [(product["sku"], 5)])
    large = await place_quote(api, deal, [(product["sku"], 10)])
    assert small["opportunity"] == large["opportunity"] == deal["number"]
    await wait_for_open_task(api, small["number"], "quote")
    task = await wait_for_open_task(api, large["number"], "quote")
    quotes = (await api.get(f"/api/opportunities/{deal['number']}")).json()["quotes"]
    assert [(q["number"], q["status"]) for q in quotes] == [
        (small["number"], "quote"),
        (large["number"], "quote"),
    ]

    accepted = await api.post(f"/api/tasks/{task['id']}/complete", json={"outcome": "approved"})
    assert accepted.status_code == 200, accepted.text
    voided = await wait_for_order(api, small["number"], lambda o: o["status"] == "cancelled")
    assert f"{large['number']} was accepted" in voided["events"][-1]["message"]
    won = (await api.get(f"/api/opportunities/{deal['number']}")).json()
    assert (won["stage"], won["probability"], won["won_order"]) == ("won", 100, large["number"])
    assert won["history"][-1]["note"] == f"quote {large['number']} accepted"
    assert {q["number"]: q["status"] for q in won["quotes"]}[small["number"]] == "cancelled"
    assert _actions(engine, deal["number"])[-1] == "opportunity.won"
    with Session(engine) as session:
        entry = session.exec(
            select(AuditEntry)
            .where(AuditEntry.action == "opportunity.won")
            .where(AuditEntry.entity_id == deal["number"])
        ).one()
    assert (entry.actor, entry.actor_kind) == ("admin token", "admin_token")  # who accepted
    more = await api.post(f"/api/opportunities/{deal['number']}/stage", json={"stage": "proposal"})
    assert more.status_code == 409


async def test_a_lost_deal_has_its_reason_and_its_open_quotes_cancelled(
    api: httpx.AsyncClient, worker, engine: Engine
) -> None:
    product = await create_product(api, on_hand=50, price="10.00")
    customer = await create_customer(api)
    deal = await create_opportunity(api, customer["id"], stage="proposal")
    quote = await place_quote(api, deal, [(product["sku"], 3)])
    await wait_for_open_task(api, quote["number"], "quote")

    bad = await api.post(f"/api/opportunities/{deal['number']}/lost", json={"reason": "mood"})
    assert bad.status_code == 422
    lost = await api.post(
        f"/api/opportunities/{deal['number']}/lost",
        json={"reason": "competitor", "note": "went with Acme"},
    )
    assert lost.status_code == 200, lost.text
    body = lost.json()
    assert (body["stage"], body["lost_reason"], body["probability"]) == ("lost", "competitor", 0)
    assert body["close_note"] == "went with Acme" and body["closed_at"]
    cancelled = await wait_for_order(api, quote["number"], lambda o: o["status"] == "cancelled")
    assert f"opportunity {deal['number']} lost: competitor" in cancelled["events"][-1]["message"]
    again = await api.post(f"/api/opportunities/{deal['number']}/lost", json={"reason": "price"})
    assert again.status_code == 409
    pipeline = (await api.get("/api/opportunities/pipeline")).json()
    assert pipeline["lost_reasons"]["competitor"] == 1
    assert _stage(pipeline, "lost")["total"] == "1000.00"
    assert _stage(pipeline, "lost")["weighted"] == "0.00"
    assert _actions(engine, deal["number"])[-1] == "opportunity.lost"
    reasons = (await api.get("/api/opportunities/lost-reasons")).json()
    assert "competitor" in reasons and "price" in reasons
