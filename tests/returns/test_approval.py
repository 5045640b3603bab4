"""Separation of duties on returns: who authorises, who receives, and an accountant's approval
of a credit note (and refund) above CONVEYOR_REFUND_APPROVAL_ABOVE, through the real app,
database and Temporal.
"""

import asyncio
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from conveyor.audit.models import AuditEntry
from conveyor.core.settings import Settings
from conveyor.invoice.models import CreditNote, Payment
from conveyor.order.models import OrderEvent
from conveyor.task.models import Task
from tests.conftest import RULES
from tests.utils.api import (
    auth,
    create_customer,
    create_employee,
    create_product,
    place_order,
    wait_for_order,
)


@pytest.fixture
def rules_dir() -> Path:
    """Every step automatic: a prepaid order runs to completed."""
    return RULES / "all_auto"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A credit above 50.00 needs an accountant's approval."""
    return settings.model_copy(update={"refund_approval_above": Decimal("50.00")})


async def _completed_order(
    api: httpx.AsyncClient, qty: int = 4, price: str = "40.00"
) -> tuple[dict, dict]:
    """A prepaid order of `qty` x `price` (no tax) that ran to completed."""
    product = await create_product(api, on_hand=10, price=price)
    customer = await create_customer(api)
    order = await place_order(
        api, customer["id"], [(product["sku"], qty)], channel="sales_rep", prepaid=True
    )
    await wait_for_order(api, order["number"], lambda o: o["status"] == "completed")
    return order, product


async def _authorised(api: httpx.AsyncClient, order: dict, sku: str, qty: int, who: dict) -> str:
    created = await api.post(
        f"/api/orders/{order['number']}/returns",
        json={"lines": [{"sku": sku, "qty": qty}]},
        headers=auth(who),
    )
    assert created.status_code == 201, created.text
    return created.json()["number"]


def _money_back(engine: Engine, number: str) -> tuple[list[CreditNote], list[Payment]]:
    with Session(engine) as session:
        notes = list(
            session.exec(
                select(CreditNote).where(col(CreditNote.key).startswith(f"return:{number}:"))
            )
        )
        refunds = list(session.exec(select(Payment).where(Payment.reference == number)))
        return notes, refunds


async def test_warehouse_cannot_authorise_and_a_large_credit_waits_for_an_accountant(
    api: httpx.AsyncClient, worker, engine: Engine
) -> None:
    order, product = await _completed_order(api)
    warehouse = await create_employee(api, ["warehouse"], clearance=5)
    sales = await create_employee(api, ["sales"], clearance=3)
    body = {"lines": [{"sku": product["sku"], "qty": 2}]}
    # The warehouse alone may not authorise what it then receives (and so credit and refund).
    refused = await api.post(
        f"/api/orders/{order['number']}/returns", json=body, headers=auth(warehouse)
    )
    assert refused.status_code == 403, refused.text
    number = await _authorised(api, order, product["sku"], 2, sales)
    # Sales may not receive it either.
    assert (
        await api.post(f"/api/returns/{number}/receive", json={}, headers=auth(sales))
    ).status_code == 403

    # 2 x 40.00 = 80.00 > 50.00: restocked, then the accountant's task; answered at once (202).
    received = await api.post(f"/api/returns/{number}/receive", json={}, headers=auth(warehouse))
    assert received.status_code == 202, received.text
    rma = received.json()
    assert rma["status"] == "pending_approval"
    assert (rma["credit_notes"], rma["credit_total"], rma["refund_total"]) == ([], "0.00", "0.00")
    task_id = rma["approval_task_id"]
    assert task_id is not None
    assert _money_back(engine, number) == ([], [])
    with Session(engine) as session:
        task = session.get(Task, task_id)
        assert task is not None
        assert (task.role, task.step, task.status) == ("accountant", "refund_approval", "open")
    on_hand = (await api.get(f"/api/inventory/{product['sku']}")).json()["on_hand"]
    assert on_hand == 8  # 10 - 4 shipped + 2 restocked: the goods are back regardless

    # Who may not decide: a clerk without refunds.approve, the person who received it (even
    # when they are an accountant too), the person who authorised it, and an outcome "done".
    complete = f"/api/tasks/{task_id}/complete"
    junior = await create_employee(api, ["accountant"], clearance=1)
    answer = await api.post(complete, json={"outcome": "approved"}, headers=auth(junior))
    assert answer.status_code == 403, answer.text
    assert "refunds.approve" in answer.json()["detail"]
    both = await create_employee(api, ["warehouse", "accountant"], clearance=3)
    other = await _completed_order(api, qty=2)
    second = await _authorised(api, other[0], other[1]["sku"], 2, sales)
    pending = await api.post(f"/api/returns/{second}/receive", json={}, headers=auth(both))
    assert pending.status_code == 202, pending.text
    own = await api.post(
        f"/api/tasks/{pending.json()['approval_task_id']}/complete",
        json={"outcome": "approved"},
        headers=auth(both),
    )
    assert own.status_code == 403, own.text
    accountant = await create_employee(api, ["accountant"], clearance=3)
    done = await api.post(complete, json={"outcome": "done"}, headers=auth(accountant))
    assert done.status_code == 422, done.text
    assert _money_back(engine, number) == ([], [])

    # Approved: the credit note and the refund follow.
    approved = await api.post(
        complete, json={"outcome": "approved", "note": "checked"}, headers=auth(accountant)
    )
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["outcome"]) == ("completed", "approved")
    final = await _wait_for_return(api, number, "received")
    assert (final["credit_total"], final["refund_total"]) == ("80.00", "80.00")
    notes, refunds = _money_back(engine, number)
    assert [n.total for n in notes] == [Decimal("80.00")]
    assert [p.amount for p in refunds] == [Decimal("-80.00")]
    # A second decision is refused; nothing changes.
    again = await api.post(complete, json={"outcome": "rejected"}, headers=auth(accountant))
    assert again.status_code == 409, again.text
    with Session(engine) as session:
        entries = session.exec(
            select(AuditEntry).where(AuditEntry.entity == "return", AuditEntry.entity_id == number)
        ).all()
        assert {e.action for e in entries} >= {"return.approval_requested", "return.approve"}
        approve = next(e for e in entries if e.action == "return.approve")
        assert approve.actor == accountant["email"]
        assert approve.employee_id == accountant["id"]


async def test_a_rejected_credit_issues_neither_credit_note_nor_refund(
    api: httpx.AsyncClient, worker, engine: Engine
) -> None:
    order, product = await _completed_order(api)
    desk = await create_employee(api, ["order_desk"])
    warehouse = await create_employee(api, ["warehouse"])
    accountant = await create_employee(api, ["accountant"], clearance=3)
    number = await _authorised(api, order, product["sku"], 3, desk)
    received = await api.post(f"/api/returns/{number}/receive", json={}, headers=auth(warehouse))
    assert received.status_code == 202, received.text
    task_id = received.json()["approval_task_id"]

    rejected = await api.post(
        f"/api/tasks/{task_id}/complete",
        json={"outcome": "rejected", "note": "goods were used"},
        headers=auth(accountant),
    )
    assert rejected.status_code == 200, rejected.text
    final = await _wait_for_return(api, number, "rejected")
    assert (final["credit_notes"], final["credit_total"], final["refund_total"]) == (
        [],
        "0.00",
        "0.00",
    )
    assert _money_back(engine, number) == ([], [])
    # Receiving it again changes nothing and answers the rejected return.
    repeat = await api.post(f"/api/returns/{number}/receive", json={}, headers=auth(warehouse))
    assert (repeat.status_code, repeat.json()["status"]) == (200, "rejected")
    assert _money_back(engine, number) == ([], [])
    with Session(engine) as session:
        trail = [
            e.message
            for e in session.exec(select(OrderEvent).where(OrderEvent.kind == "return_approval"))
        ]
    assert any("rejected by" in m and "goods were used" in m for m in trail), trail
    paid = await wait_for_order(api, order["number"], lambda o: True)
    assert paid["totals"]["paid"] == "160.00"  # no refund was recorded


async def test_a_credit_at_the_approval_amount_goes_straight_through(
    api: httpx.AsyncClient, worker, engine: Engine
) -> None:
    order, product = await _completed_order(api, qty=2, price="50.00")
    desk = await create_employee(api, ["order_desk"])
    warehouse = await create_employee(api, ["warehouse"])
    number = await _authorised(api, order, product["sku"], 1, desk)
    received = await api.post(f"/api/returns/{number}/receive", json={}, headers=auth(warehouse))
    assert received.status_code == 200, received.text
    rma = received.json()
    assert (rma["status"], rma["credit_total"], rma["refund_total"]) == (
        "received",
        "50.00",
        "50.00",
    )
    assert rma["approval_task_id"] is None


async def _wait_for_return(api: httpx.AsyncClient, number: str, status: str) -> dict:
    deadline = time.monotonic() + 30
    while True:
        rma = (await api.get(f"/api/returns/{number}")).json()
        if rma["status"] == status:
            return rma
        assert time.monotonic() < deadline, rma
        await asyncio.sleep(0.2)
