"""Returns through the API: RMA, receipt through the ReturnWorkflow, credit note, refund, mail."""

import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from conveyor.invoice.models import CreditNote, Payment
from conveyor.notification.models import OutboxMessage
from conveyor.returns.models import ReturnAuthorisation
from tests.conftest import RULES, Mailbox
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


async def _on_hand(api: httpx.AsyncClient, sku: str) -> int:
    return (await api.get(f"/api/inventory/{sku}")).json()["on_hand"]


async def _completed_order(api: httpx.AsyncClient) -> tuple[dict, dict, dict, dict]:
    """A prepaid sales-rep order with tax that ran to completed: 3 x tool, 2 x cable."""
    response = await api.post(
        "/api/tax-rates", json={"tax_class": "standard", "country": "DE", "rate": "19"}
    )
    assert response.status_code == 201, response.text
    tool = await create_product(api, on_hand=10, price="19.99")
    cable = await create_product(api, on_hand=10, price="5.00")
    customer = await create_customer(api, country="DE")
    order = await place_order(
        api,
        customer["id"],
        [(tool["sku"], 3), (cable["sku"], 2)],
        channel="sales_rep",
        prepaid=True,
    )
    final = await wait_for_order(api, order["number"], lambda o: o["status"] == "completed")
    # 59.97 + 11.39 tax (19 %) and 10.00 + 1.90 tax
    assert final["totals"]["total"] == final["totals"]["paid"] == "83.26"
    return final, tool, cable, customer


async def test_return_restocks_scraps_credits_refunds_and_mails_once(
    api: httpx.AsyncClient, worker, engine: Engine, mailbox: Mailbox
) -> None:
    order, tool, cable, customer = await _completed_order(api)
    number = order["number"]
    assert (await _on_hand(api, tool["sku"]), await _on_hand(api, cable["sku"])) == (7, 8)

    created = await api.post(
        f"/api/orders/{number}/returns",
        json={
            "lines": [{"sku": tool["sku"], "qty": 2}, {"sku": cable["sku"], "qty": 1}],
            "reason": "damaged in transit",
        },
    )
    assert created.status_code == 201, created.text
    rma = created.json()
    assert rma["number"] == "RMA-000001"
    assert (rma["status"], rma["order_number"], rma["credit_notes"]) == ("authorised", number, [])

    # Receiving a SKU that is not on the return, or more than authorised: 422, nothing changes.
    for lines in (
        [{"sku": cable["sku"], "qty": 2}],
        [{"sku": "NOPE", "qty": 1}],
        [{"sku": tool["sku"], "qty": 1, "disposition": "burn"}],
    ):
        refused = await api.post(f"/api/returns/{rma['number']}/receive", json={"lines": lines})
        assert refused.status_code == 422, refused.text
    assert (await api.get(f"/api/returns/{rma['number']}")).json()["status"] == "authorised"

    body = {
        "lines": [
            {"sku": tool["sku"], "qty": 1, "disposition": "restock"},
            {"sku": tool["sku"], "qty": 1, "disposition": "scrap"},
            {"sku": cable["sku"], "qty": 1},
        ]
    }
    received = await api.post(f"/api/returns/{rma['number']}/receive", json=body)
    assert received.status_code == 200, received.text
    result = received.json()
    assert result["status"] == "received"
    assert {
        (ln["sku"], ln["qty"], ln["restock_qty"], ln["scrap_qty"]) for ln in result["lines"]
    } == {
        (tool["sku"], 2, 1, 1),
        (cable["sku"], 1, 1, 0),
    }
    # Tools: 2/3 of 59.97 = 39.98, tax 2/3 of 11.39 = 7.59; cable: 5.00, tax 0.95.
    [note] = result["credit_notes"]
    assert (note["subtotal"], note["tax"], note["total"]) == ("44.98", "8.54", "53.52")
    assert note["number"].startswith(f"CN-{datetime.now(UTC).year}-")
    assert (result["credit_total"], result["refund_total"]) == ("53.52", "53.52")
    # Restocked goods are back on hand, scrapped ones are not.
    assert (await _on_hand(api, tool["sku"]), await _on_hand(api, cable["sku"])) == (8, 9)
    after = (await api.get(f"/api/orders/{number}")).json()
    assert after["totals"]["paid"] == "29.74"  # 83.26 paid, 53.52 refunded
    assert (after["totals"]["credited"], after["totals"]["balance"]) == ("53.52", "0.00")
    assert [e["kind"] for e in after["events"] if e["kind"].startswith("return_")] == [
        "return_authorised",
        "return_received",
    ]

    mails = mailbox.to(customer["email"])
    returns_mail = [m for m in mails if "Return RMA-000001" in str(m["Subject"])]
    assert len(returns_mail) == 1
    text = returns_mail[0].get_body(("plain",)).get_content()
    assert note["number"] in text and "53.52" in text

    # Receiving again (a retry) changes nothing; receiving something else is a conflict.
    again = await api.post(f"/api/returns/{rma['number']}/receive", json=body)
    assert again.status_code == 200, again.text
    assert again.json() == result
    other = await api.post(f"/api/returns/{rma['number']}/receive", json={"lines": []})
    assert other.status_code == 409
    assert (await _on_hand(api, tool["sku"]), await _on_hand(api, cable["sku"])) == (8, 9)
    with Session(engine) as session:
        assert len(session.exec(select(CreditNote)).all()) == 1
        refunds = session.exec(select(Payment).where(Payment.method == "refund")).all()
        assert [str(p.amount) for p in refunds] == ["-53.52"]
        outbox = session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == "return_received")
        ).all()
        assert len(outbox) == 1
    assert len([m for m in mailbox.to(customer["email"]) if "Return" in str(m["Subject"])]) == 1

    # The journal: the credit note reverses only the returned goods, the refund leaves the bank.
    today = datetime.now(UTC).date().isoformat()
    journal = await api.get(f"/api/accounting/journal?from={today}&to={today}")
    assert journal.status_code == 200, journal.text
    rows = [r for r in journal.json()["data"] if r["document"] == note["number"]]
    assert {(r["account"], r["debit"], r["credit"]) for r in rows} == {
        ("1200", "0.00", "53.52"),
        ("4000", "44.98", "0.00"),
        ("2200", "8.54", "0.00"),
    }

    listed = (await api.get(f"/api/returns?order={number}")).json()
    assert listed["count"] == 1 and listed["data"][0] == result


async def test_returning_more_than_shipped_is_refused_and_writes_nothing(
    api: httpx.AsyncClient, worker, engine: Engine
) -> None:
    order, tool, cable, _ = await _completed_order(api)
    path = f"/api/orders/{order['number']}/returns"
    first = await api.post(path, json={"lines": [{"sku": tool["sku"], "qty": 2}]})
    assert first.status_code == 201, first.text
    bad = [
        ({"lines": [{"sku": tool["sku"], "qty": 2}]}, 422, "1 left"),
        ({"lines": [{"sku": cable["sku"], "qty": 3}]}, 422, "2 shipped"),
        ({"lines": [{"sku": "GHOST", "qty": 1}]}, 422, "not shipped"),
        ({"lines": []}, 422, None),
        ({"lines": [{"sku": tool["sku"], "qty": 0}]}, 422, None),
        ({"lines": [{"sku": tool["sku"], "qty": "many"}]}, 422, None),
    ]
    for body, code, detail in bad:
        response = await api.post(path, json=body)
        assert response.status_code == code, (body, response.text)
        if detail:
            assert detail in response.json()["detail"]
    assert (await api.post("/api/orders/SO-NOPE/returns", json=bad[0][0])).status_code == 404
    assert (await api.get("/api/returns/RMA-999999")).status_code == 404
    assert (await api.post("/api/returns/RMA-999999/receive", json={})).status_code == 404
    with Session(engine) as session:
        assert len(session.exec(select(ReturnAuthorisation)).all()) == 1

    # The same Idempotency-Key twice: one RMA.
    headers = {"Idempotency-Key": "rma-once"}
    body = {"lines": [{"sku": cable["sku"], "qty": 1}]}
    one = await api.post(path, json=body, headers=headers)
    two = await api.post(path, json=body, headers=headers)
    assert one.status_code == two.status_code == 201
    assert one.json()["number"] == two.json()["number"] == "RMA-000002"


async def test_return_on_an_unshipped_order_is_a_conflict_and_roles_are_checked(
    api: httpx.AsyncClient, worker
) -> None:
    product = await create_product(api, on_hand=0)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)], channel="sales_rep")
    await wait_for_order(api, order["number"], lambda o: o["status"] == "backordered")
    body = {"lines": [{"sku": product["sku"], "qty": 1}]}
    refused = await api.post(f"/api/orders/{order['number']}/returns", json=body)
    assert refused.status_code == 409
    assert "nothing was shipped" in refused.json()["detail"]

    rep = await create_employee(api, ["sales_rep"])
    forbidden = await api.post(
        f"/api/orders/{order['number']}/returns", json=body, headers=auth(rep)
    )
    assert forbidden.status_code == 403
    desk = await create_employee(api, ["order_desk"])
    allowed_in = await api.post(
        f"/api/orders/{order['number']}/returns", json=body, headers=auth(desk)
    )
    assert allowed_in.status_code == 409  # past the role check, refused for the order's state
    cannot_receive = await api.post("/api/returns/RMA-000001/receive", json={}, headers=auth(desk))
    assert cannot_receive.status_code == 403
    # Not a role that may view returns (finding 2: viewing is restricted too).
    assert (await api.get("/api/returns", headers=auth(rep))).status_code == 403


async def test_restocked_goods_go_back_to_the_warehouse_that_shipped_them(
    api: httpx.AsyncClient, worker
) -> None:
    code = f"R{uuid.uuid4().hex[:6].upper()}"
    assert (await api.post("/api/warehouses", json={"code": code})).status_code == 201
    product = await create_product(api, on_hand=0)
    sku = product["sku"]
    received = await api.post(f"/api/inventory/{sku}/receive", json={"qty": 3, "warehouse": code})
    assert received.status_code == 200, received.text
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(sku, 2)], channel="sales_rep", prepaid=True)
    await wait_for_order(api, order["number"], lambda o: o["status"] == "completed")
    rma = await api.post(
        f"/api/orders/{order['number']}/returns", json={"lines": [{"sku": sku, "qty": 2}]}
    )
    assert rma.status_code == 201, rma.text
    done = await api.post(
        f"/api/returns/{rma.json()['number']}/receive",
        json={"lines": [{"sku": sku, "qty": 1}, {"sku": sku, "qty": 1, "disposition": "scrap"}]},
    )
    assert done.status_code == 200, done.text
    stock = (await api.get(f"/api/inventory/{sku}")).json()
    on_hand = {w["warehouse"]: w["on_hand"] for w in stock["warehouses"]}
    assert on_hand.get(code) == 2 and on_hand.get("MAIN", 0) == 0  # 3 - 2 shipped + 1 back
