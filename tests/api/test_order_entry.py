"""Order entry over the JSON API: PO reference, requested date, ship-to, explicit quotes with
their own validity, revisions (the old version superseded, no longer acceptable), idempotency
and refusals. The rules here run every step by themselves: a quote is one only when asked."""

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from conveyor.audit.models import AuditEntry
from conveyor.order.models import SalesOrder
from tests.utils.api import (
    auth,
    create_customer,
    create_employee,
    create_product,
    wait_for_open_task,
    wait_for_order,
)

SHIP_TO = {
    "name": "Łódź Warehouse",
    "line1": "ul. Piotrkowska 1",
    "city": "Łódź",
    "postcode": "90-001",
    "country": "PL",
}


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _days(n: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=n)).isoformat()


async def _order(api: httpx.AsyncClient, **extra) -> httpx.Response:
    product = await create_product(api, on_hand=20, price="10.00")
    customer = await create_customer(api)
    body = {"customer_id": customer["id"], "lines": [{"sku": product["sku"], "qty": 2}], **extra}
    return await api.post("/api/orders", json=body)


async def test_entry_fields_are_stored_and_shown(api: httpx.AsyncClient, worker) -> None:
    answer = await _order(
        api, customer_po="PO-4711", requested_delivery_date=_days(5), ship_to=SHIP_TO
    )
    assert answer.status_code == 201, answer.text
    order = answer.json()
    assert order["customer_po"] == "PO-4711"
    assert order["requested_delivery_date"] == _days(5)
    assert order["ship_to"]["city"] == "Łódź" and order["ship_to"]["country"] == "PL"
    assert order["explicit_quote"] is False and order["status"] == "open"
    read = (await api.get(f"/api/orders/{order['number']}")).json()
    assert read["ship_to"] == order["ship_to"] and read["customer_po"] == "PO-4711"
    # Not a quote: the rules run it straight through to collection (it waits for payment).
    await wait_for_order(api, order["number"], lambda o: o["current_step"] == "collection")


async def test_refusals_name_the_field(api: httpx.AsyncClient) -> None:
    for extra, word in [
        ({"requested_delivery_date": "2001-01-01"}, "requested delivery date"),
        ({"quote_valid_until": _days(3)}, "validity date is for a quote"),
        ({"quote": True, "quote_valid_until": _days(800)}, "at most"),
        ({"ship_to": SHIP_TO, "ship_to_address_id": 1}, "not both"),
        ({"ship_to": SHIP_TO, "ship_to_country": "DE"}, "differs"),
        ({"ship_to_address_id": 999999}, "not one of the customer's"),
    ]:
        answer = await _order(api, **extra)
        assert answer.status_code == 422, (extra, answer.text)
        assert word in answer.text, (extra, answer.text)
    answer = await _order(api, customer_po="x" * 65)
    assert answer.status_code == 422


async def test_an_idempotency_key_makes_one_order(api: httpx.AsyncClient, engine: Engine) -> None:
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    body = {"customer_id": customer["id"], "lines": [{"sku": product["sku"], "qty": 1}]}
    headers = {"Idempotency-Key": "entry-form-1"}
    first = await api.post("/api/orders", json=body, headers=headers)
    again = await api.post("/api/orders", json=body, headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert first.json()["number"] == again.json()["number"]
    with Session(engine) as session:
        rows = session.exec(select(SalesOrder).where(SalesOrder.customer_id == customer["id"]))
        assert len(rows.all()) == 1


async def test_explicit_quote_is_revised_and_the_old_one_superseded(
    api: httpx.AsyncClient, worker, engine: Engine, mailbox
) -> None:
    rep = await create_employee(api, roles=["sales"], clearance=2)
    product = await create_product(api, on_hand=20, price="10.00")
    customer = await create_customer(api)
    body = {
        "customer_id": customer["id"],
        "lines": [{"sku": product["sku"], "qty": 2}],
        "quote": True,
        "quote_valid_until": _days(10),
        "customer_po": "PO-1",
    }
    # A rep below the all-accounts clearance places orders for customers they own only.
    refused = await api.post("/api/orders", json=body, headers=auth(rep))
    assert refused.status_code == 422 and "not found" in refused.json()["detail"]
    answer = await api.post("/api/orders", json=body)
    assert answer.status_code == 201, answer.text
    first = answer.json()
    assert first["status"] == "quote" and first["explicit_quote"] is True
    assert first["quote_valid_until"] == _days(10) and first["quote_version"] == 1
    # The rules skip the quote step; the explicit quote waits for the customer anyway.
    await wait_for_open_task(api, first["number"], "quote")

    revision = {"lines": [{"sku": product["sku"], "qty": 3}], "quote_valid_until": _days(12)}
    # A rep below the all-accounts clearance revises only the quotes of customers they own.
    answer = await api.post(
        f"/api/orders/{first['number']}/revise", json=revision, headers=auth(rep)
    )
    assert answer.status_code == 404, answer.text
    answer = await api.post(f"/api/orders/{first['number']}/revise", json=revision)
    assert answer.status_code == 201, answer.text
    second = answer.json()
    assert second["revises"] == first["number"] and second["quote_version"] == 2
    assert second["lines"][0]["qty"] == 3 and second["total"] == "30.00"
    assert second["customer_po"] == "PO-1" and second["quote_valid_until"] == _days(12)
    old = await wait_for_order(api, first["number"], lambda o: o["status"] == "cancelled")
    assert old["superseded_by"] == second["number"]
    assert not [t for t in old["tasks"] if t["status"] == "open"]  # nothing left to accept
    assert any("revised quote" in e["message"] for e in old["events"])
    await wait_for_open_task(api, second["number"], "quote")
    # The old version cannot be revised (nor accepted) again.
    again = await api.post(f"/api/orders/{first['number']}/revise", json=revision)
    assert again.status_code == 409, again.text
    with Session(engine) as session:
        actions = session.exec(
            select(AuditEntry.action).where(AuditEntry.entity_id == first["number"])
        ).all()
    assert "order.revise" in actions


async def test_revise_refusals(api: httpx.AsyncClient, worker) -> None:
    product = await create_product(api, on_hand=20)
    customer = await create_customer(api)
    lines = [{"sku": product["sku"], "qty": 1}]
    order = (
        await api.post("/api/orders", json={"customer_id": customer["id"], "lines": lines})
    ).json()
    answer = await api.post(f"/api/orders/{order['number']}/revise", json={"lines": lines})
    assert answer.status_code == 409  # not a quote
    clerk = await create_employee(api, roles=["warehouse"], clearance=5)
    answer = await api.post(
        f"/api/orders/{order['number']}/revise", json={"lines": lines}, headers=auth(clerk)
    )
    assert answer.status_code == 403
    answer = await api.post("/api/orders/SO-NOPE/revise", json={"lines": lines})
    assert answer.status_code == 404
    answer = await api.post(f"/api/orders/{order['number']}/revise", json={"lines": []})
    assert answer.status_code == 422
