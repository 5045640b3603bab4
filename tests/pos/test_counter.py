"""Counter sales through the API, with the project's own routing rules, on SQLite and PostgreSQL:
a sale is placed paid and completes by itself, the drawer adds up, cash without a drawer is
refused, and a counter return pays its refund out of the drawer."""

from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from conveyor.audit.models import AuditEntry
from conveyor.core.settings import Settings
from conveyor.invoice.models import Invoice, Payment
from conveyor.pos.models import CashMovement
from tests.utils.api import auth, create_customer, create_employee, create_product, wait_for_order
from tests.utils.pdf import read_pdf


@pytest.fixture
def rules_dir() -> Path:
    """The rules Conveyor ships: their counter-sales rule must make a pos order run by itself."""
    return Settings().rules_dir


async def _open(api: httpx.AsyncClient, clerk: dict, opening_float: str) -> dict:
    response = await api.post(
        "/api/pos/drawer/open", json={"opening_float": opening_float}, headers=auth(clerk)
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _sell(api: httpx.AsyncClient, clerk: dict, body: dict) -> httpx.Response:
    return await api.post("/api/pos/sales", json=body, headers=auth(clerk))


async def _completed(api: httpx.AsyncClient, number: str) -> dict:
    return await wait_for_order(api, number, lambda o: o["status"] == "completed", timeout=60)


async def test_a_cash_sale_completes_paid_and_the_drawer_adds_up(
    api: httpx.AsyncClient, worker, engine: Engine, tmp_path: Path
) -> None:
    clerk = await create_employee(api, ["order_desk"])
    mug = await create_product(api, on_hand=5, price="12.50", name="Coffee mug")
    pen = await create_product(api, on_hand=5, price="1.20", name="Pen")
    opened = await _open(api, clerk, "100.00")
    assert opened["expected"] == "100.00" and opened["status"] == "open"
    again = await api.post("/api/pos/drawer/open", json={}, headers=auth(clerk))
    assert again.status_code == 409 and "close it" in again.json()["detail"]

    response = await _sell(
        api,
        clerk,
        {
            "lines": [{"sku": mug["sku"], "qty": 2}, {"sku": pen["sku"]}],
            "tender": "cash",
            "tendered": "30.00",
        },
    )
    assert response.status_code == 201, response.text
    sale = response.json()
    assert sale["total"] == "26.20" and sale["paid"] == "26.20" and sale["change"] == "3.80"
    number = sale["order_number"]

    order = await _completed(api, number)
    assert order["channel"] == "pos"
    assert order["rule"] == "counter-sales"
    assert order["totals"]["invoiced"] == order["totals"]["paid"] == "26.20"
    assert order["totals"]["balance"] == "0.00"
    assert order["tasks"] == []  # every step ran by itself
    assert (await api.get(f"/api/inventory/{mug['sku']}")).json()["on_hand"] == 3
    with Session(engine) as session:
        reference = f"drawer {opened['id']}"
        payments = session.exec(select(Payment).where(Payment.reference == reference))
        assert [(p.method, p.amount) for p in payments] == [("cash", Decimal("26.20"))]
        assert session.exec(select(Invoice).where(Invoice.total == Decimal("26.20"))).first()

    drawer = (await api.get("/api/pos/drawer", headers=auth(clerk))).json()
    assert drawer["expected"] == "126.20" and drawer["cash_sales"] == "26.20"

    receipt = await api.get(sale["receipt_url"], headers=auth(clerk))
    assert receipt.status_code == 200 and receipt.headers["content-type"] == "application/pdf"
    text = read_pdf(receipt.content, tmp_path, "receipt")
    assert number in text and "Coffee mug" in text and "26.20" in text and "3.80" in text

    closed = await api.post(
        "/api/pos/drawer/close", json={"counted": "125.00"}, headers=auth(clerk)
    )
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert (body["expected"], body["counted"], body["difference"]) == ("126.20", "125.00", "-1.20")
    assert (await api.get("/api/pos/drawer", headers=auth(clerk))).status_code == 404
    with Session(engine) as session:
        audit = session.exec(
            select(AuditEntry).where(AuditEntry.action == "pos.drawer_close")
        ).all()
        assert any(entry.after and entry.after.get("difference") == "-1.20" for entry in audit)
    listed = (await api.get("/api/pos/drawers", params={"employee_id": clerk["id"]})).json()
    assert listed["count"] == 1 and listed["data"][0]["difference"] == "-1.20"


async def test_cash_without_an_open_drawer_is_refused_and_card_is_not(
    api: httpx.AsyncClient, worker, engine: Engine
) -> None:
    clerk = await create_employee(api, ["sales"])
    lamp = await create_product(api, on_hand=3, price="40.00")
    customer = await create_customer(api, name="Known buyer")
    refused = await _sell(api, clerk, {"lines": [{"sku": lamp["sku"]}], "tender": "cash"})
    assert refused.status_code == 409
    assert "no open cash drawer" in refused.json()["detail"]
    short = await _sell(api, clerk, {"lines": [{"sku": lamp["sku"], "qty": 4}], "tender": "card"})
    assert short.status_code == 422 and "only 3" in short.json()["detail"]
    # An unpaid pos order through the ordinary order route would run straight through.
    desk = await create_employee(api, ["order_desk"], clearance=5)
    unpaid = await api.post(
        "/api/orders",
        json={
            "customer_id": customer["id"],
            "channel": "pos",
            "lines": [{"sku": lamp["sku"], "qty": 1}],
        },
        headers=auth(desk),
    )
    assert unpaid.status_code == 403 and "/api/pos/sales" in unpaid.json()["detail"], unpaid.text
    with Session(engine) as session:  # nothing was recorded for the refusals
        assert session.exec(select(Payment).where(Payment.method == "cash")).first() is None

    card = await _sell(
        api,
        clerk,
        {"lines": [{"sku": lamp["sku"]}], "tender": "card", "customer_id": customer["id"]},
    )
    assert card.status_code == 201, card.text
    assert card.json()["customer_id"] == customer["id"] and card.json()["drawer_id"] is None
    order = await _completed(api, card.json()["order_number"])
    assert order["totals"]["paid"] == "40.00"


async def test_a_counter_return_refunds_cash_from_the_drawer(
    api: httpx.AsyncClient, worker, engine: Engine
) -> None:
    clerk = await create_employee(api, ["order_desk"])
    kettle = await create_product(api, on_hand=4, price="30.00", name="Kettle")
    await _open(api, clerk, "50.00")
    sale = (
        await _sell(api, clerk, {"lines": [{"sku": kettle["sku"], "qty": 2}], "tender": "cash"})
    ).json()
    number = sale["order_number"]
    await _completed(api, number)
    assert (await api.get("/api/pos/drawer", headers=auth(clerk))).json()["expected"] == "110.00"

    other = await create_employee(api, ["order_desk"])  # no drawer open: refused, nothing made
    refused = await api.post(
        f"/api/pos/sales/{number}/return",
        json={"lines": [{"sku": kettle["sku"], "qty": 1}]},
        headers=auth(other),
    )
    assert refused.status_code == 409 and "no open cash drawer" in refused.json()["detail"]
    assert (await api.get("/api/returns", params={"order": number})).json()["count"] == 0

    response = await api.post(
        f"/api/pos/sales/{number}/return",
        json={"lines": [{"sku": kettle["sku"], "qty": 1}], "reason": "dented"},
        headers={**auth(clerk), "Idempotency-Key": "counter-return-1"},
    )
    assert response.status_code == 200, response.text
    back = response.json()
    assert back["status"] == "received"
    assert back["credit_total"] == back["refund_total"] == back["paid_out"] == "30.00"
    drawer = (await api.get("/api/pos/drawer", headers=auth(clerk))).json()
    assert drawer["expected"] == "80.00" and drawer["cash_refunds"] == "30.00"
    assert (await api.get(f"/api/inventory/{kettle['sku']}")).json()["on_hand"] == 3

    repeated = await api.post(
        f"/api/pos/sales/{number}/return",
        json={"lines": [{"sku": kettle["sku"], "qty": 1}], "reason": "dented"},
        headers={**auth(clerk), "Idempotency-Key": "counter-return-1"},
    )
    assert repeated.status_code == 200 and repeated.json()["paid_out"] == "30.00"
    drawer = (await api.get("/api/pos/drawer", headers=auth(clerk))).json()
    assert drawer["expected"] == "80.00"  # paid out once
    with Session(engine) as session:
        movements = session.exec(select(CashMovement).where(CashMovement.order_number == number))
        assert sorted(m.amount for m in movements) == [Decimal("-30.00"), Decimal("60.00")]
        refunds = session.exec(select(AuditEntry).where(AuditEntry.action == "pos.refund")).all()
        assert len(refunds) == 1

    # The drawer closed, the same request again is still the one return, paid out once.
    closed = await api.post("/api/pos/drawer/close", json={"counted": "80.00"}, headers=auth(clerk))
    assert closed.status_code == 200, closed.text
    after_close = await api.post(
        f"/api/pos/sales/{number}/return",
        json={"lines": [{"sku": kettle["sku"], "qty": 1}], "reason": "dented"},
        headers={**auth(clerk), "Idempotency-Key": "counter-return-1"},
    )
    assert after_close.status_code == 200, after_close.text
    assert after_close.json()["paid_out"] == "30.00"
    assert (await api.get("/api/returns", params={"order": number})).json()["count"] == 1
