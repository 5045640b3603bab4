"""Stock purchase orders over the API: priced from the supplier's list, mailed, received in
parts within the tolerance (refused beyond it), moving the average cost; a receipt wakes a
backordered order (real Temporal worker), and its packing posts cost of goods sold."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import select

from conveyor.core.db import session_scope
from conveyor.inventory.models import Product, StockMovement
from conveyor.notification.models import OutboxMessage
from tests.conftest import ADMIN_TOKEN, Mailbox
from tests.utils.api import (
    auth,
    create_customer,
    create_employee,
    create_product,
    place_order,
    wait_for_order,
)
from tests.utils.pages import staff_client


async def _mail_to(mailbox: Mailbox, address: str) -> Any:
    for _ in range(300):
        found = [m for m in mailbox.to(address) if "purchase order" in m["Subject"].lower()]
        if found:
            return found[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no purchase order mail; got {[m['Subject'] for m in mailbox.messages]}")


async def make_supplier(api: httpx.AsyncClient, **extra: object) -> dict:
    """POST /api/suppliers with a unique code."""
    body = {
        "code": f"s{uuid.uuid4().hex[:6]}",  # any case in, upper case kept
        "name": "Acme Supplies",
        "email": f"buy-{uuid.uuid4().hex[:6]}@acme.example",
        "lead_time_days": 10,
        **extra,
    }
    response = await api.post("/api/suppliers", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def add_price(api: httpx.AsyncClient, code: str, **body: object) -> dict:
    response = await api.post(f"/api/suppliers/{code}/prices", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_stock_purchase_order_priced_sent_received_in_parts_within_tolerance(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    product = await create_product(api, on_hand=0, price="20.00")
    sku = product["sku"]
    supplier = await make_supplier(api)
    code = supplier["code"]
    await add_price(api, code, sku=sku, min_qty=1, unit_price="10.00")
    await add_price(api, code, sku=sku, min_qty=50, unit_price="8.00", discount_percent="2.5")

    created = await api.post(
        "/api/purchase-orders",
        json={"supplier": code, "lines": [{"sku": sku, "qty": 100, "tax_rate": "19"}]},
        headers={"Idempotency-Key": "po-1"},
    )
    assert created.status_code == 201, created.text
    po = created.json()
    again = await api.post(
        "/api/purchase-orders",
        json={"supplier": code, "lines": [{"sku": sku, "qty": 100, "tax_rate": "19"}]},
        headers={"Idempotency-Key": "po-1"},
    )
    assert again.json()["number"] == po["number"]  # a retried create counts once
    number = po["number"]
    assert (po["kind"], po["status"], po["supplier"], po["warehouse"]) == (
        "stock",
        "open",
        code,
        "MAIN",
    )
    line = po["lines"][0]
    # The 50+ break, 2.5 % off: 8.00 x 0.975 = 7.80 net.
    assert Decimal(line["unit_price"]) == Decimal("7.8")
    assert Decimal(po["net_total"]) == Decimal("780.00")
    assert Decimal(po["tax_total"]) == Decimal("148.20")
    expected = (datetime.now(UTC).date() + timedelta(days=10)).isoformat()
    assert po["expected_date"] == expected and line["expected_date"] == expected
    assert (await api.get(f"/api/inventory?q={sku}")).json()["data"][0]["incoming"] == 100

    sent = await api.post(f"/api/purchase-orders/{number}/send")
    assert sent.status_code == 200, sent.text
    assert sent.json()["sent_at"] is not None
    with session_scope(engine) as session:
        mails = session.exec(
            select(OutboxMessage).where(OutboxMessage.recipients == supplier["email"])
        ).all()
        assert len(mails) == 1
        assert mails[0].subject.startswith(f"Purchase order {number}")
        assert f"100 x {sku}" in mails[0].body_text and "at 7.8" in mails[0].body_text
        assert "deliver the following to our warehouse MAIN" in mails[0].body_text

    # 60 now at 7.80: the average is the receipt's cost.
    first = await api.post(
        f"/api/purchase-orders/{number}/receipts",
        json={"lines": [{"sku": sku, "qty": 60}], "reference": "DN-1"},
        headers={"Idempotency-Key": "r-1"},
    )
    assert first.status_code == 200, first.text
    assert (first.json()["status"], first.json()["lines"][0]["received_qty"]) == ("open", 60)
    retried = await api.post(
        f"/api/purchase-orders/{number}/receipts",
        json={"lines": [{"sku": sku, "qty": 60}], "reference": "DN-1"},
        headers={"Idempotency-Key": "r-1"},
    )
    assert retried.json()["lines"][0]["received_qty"] == 60  # counted once
    stock = (await api.get(f"/api/inventory/{sku}")).json()
    assert stock["on_hand"] == 60
    assert (await api.get(f"/api/inventory?q={sku}")).json()["data"][0]["incoming"] == 40

    # 46 more would make 106: beyond 100 + 5 %, refused, and nothing of it kept.
    over = await api.post(
        f"/api/purchase-orders/{number}/receipts", json={"lines": [{"sku": sku, "qty": 46}]}
    )
    assert over.status_code == 409, over.text
    assert "at most 105" in over.json()["detail"] and "tolerance 5%" in over.json()["detail"]
    assert (await api.get(f"/api/inventory/{sku}")).json()["on_hand"] == 60
    po_now = (await api.get(f"/api/purchase-orders/{number}")).json()
    assert po_now["lines"][0]["received_qty"] == 60

    # 36 more (96 of 100): within 5 % short, so the purchase order is received.
    rest = await api.post(
        f"/api/purchase-orders/{number}/receipts", json={"lines": [{"sku": sku, "qty": 36}]}
    )
    assert rest.status_code == 200, rest.text
    assert rest.json()["status"] == "received"
    closed = await api.post(
        f"/api/purchase-orders/{number}/receipts", json={"lines": [{"sku": sku, "qty": 1}]}
    )
    assert closed.status_code == 409 and "received" in closed.json()["detail"]
    products = (await api.get(f"/api/inventory/{sku}")).json()
    assert products["on_hand"] == 96

    # A plain receipt at another cost re-weighs the average: (96 x 7.80 + 4 x 12.00) / 100.
    plain = await api.post(f"/api/inventory/{sku}/receive", json={"qty": 4, "unit_cost": "12"})
    assert plain.status_code == 200, plain.text
    listed = (await api.get("/api/purchase-orders", params={"kind": "stock"})).json()
    assert number in [p["number"] for p in listed]
    with session_scope(engine) as session:
        stored = session.exec(select(Product).where(Product.sku == sku)).one()
        assert stored.average_cost == Decimal("7.9680")
        notes = session.exec(select(StockMovement.note).where(StockMovement.sku == sku)).all()
        assert f"{number} DN-1" in notes


async def test_purchase_order_refusals(api: httpx.AsyncClient) -> None:
    product = await create_product(api, on_hand=0)
    euro = await create_product(api, on_hand=0, currency="EUR")
    supplier = await make_supplier(api)
    code = supplier["code"]

    no_price = await api.post(
        "/api/purchase-orders",
        json={"supplier": code, "lines": [{"sku": product["sku"], "qty": 3}]},
    )
    assert no_price.status_code == 422 and "no price" in no_price.json()["detail"]
    currency = await api.post(
        "/api/purchase-orders",
        json={"supplier": code, "lines": [{"sku": euro["sku"], "qty": 3, "unit_price": "1"}]},
    )
    assert currency.status_code == 422 and "currencies" in currency.json()["detail"]
    unknown = await api.post(
        "/api/purchase-orders",
        json={"supplier": "NOPE", "lines": [{"sku": product["sku"], "qty": 1}]},
    )
    assert unknown.status_code == 404
    nowhere = await api.post(
        "/api/purchase-orders",
        json={
            "supplier": code,
            "warehouse": "NOWHERE",
            "lines": [{"sku": product["sku"], "qty": 1, "unit_price": "1"}],
        },
    )
    assert nowhere.status_code == 422, nowhere.text

    created = await api.post(
        "/api/purchase-orders",
        json={"supplier": code, "lines": [{"sku": product["sku"], "qty": 10, "unit_price": "1"}]},
    )
    number = created.json()["number"]
    stranger = await api.post(
        f"/api/purchase-orders/{number}/receipts",
        json={"lines": [{"sku": euro["sku"], "qty": 1}]},
    )
    assert stranger.status_code == 422 and "no line" in stranger.json()["detail"]

    sales = await create_employee(api, ["sales"])
    clerk = await create_employee(api, ["purchasing"], clearance=2)
    desk = await create_employee(api, ["warehouse"])
    body = {"supplier": code, "lines": [{"sku": product["sku"], "qty": 1, "unit_price": "1"}]}
    assert (
        await api.post("/api/purchase-orders", json=body, headers=auth(sales))
    ).status_code == 403
    assert (
        await api.post("/api/purchase-orders", json=body, headers=auth(clerk))
    ).status_code == 201
    receipt = {"lines": [{"sku": product["sku"], "qty": 1}]}
    by_warehouse = await api.post(
        f"/api/purchase-orders/{number}/receipts", json=receipt, headers=auth(desk)
    )
    assert by_warehouse.status_code == 200, by_warehouse.text
    by_sales = await api.post(
        f"/api/purchase-orders/{number}/receipts", json=receipt, headers=auth(sales)
    )
    assert by_sales.status_code == 403


async def test_a_receipt_wakes_a_backordered_order_and_packing_posts_its_cost(
    api: httpx.AsyncClient, worker, mailbox: Mailbox
) -> None:
    product = await create_product(api, on_hand=0, price="25.00")
    sku = product["sku"]
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(sku, 3)])
    number = order["number"]
    await wait_for_order(api, number, lambda o: o["status"] == "backordered")

    supplier = await make_supplier(api)
    created = await api.post(
        "/api/purchase-orders",
        json={"supplier": supplier["code"], "lines": [{"sku": sku, "qty": 5, "unit_price": "9.5"}]},
    )
    assert created.status_code == 201, created.text
    assert (await api.post(f"/api/purchase-orders/{created.json()['number']}/send")).is_success
    mail = await _mail_to(mailbox, supplier["email"])
    assert mail["Subject"].startswith(f"Purchase order {created.json()['number']}")
    assert f"5 x {sku}" in mail.get_body(preferencelist=("plain",)).get_content()
    received = await api.post(
        f"/api/purchase-orders/{created.json()['number']}/receipts",
        json={"lines": [{"sku": sku, "qty": 5}]},
    )
    assert received.status_code == 200, received.text
    # Well inside the 30 s safety recheck: the receipt's signal woke it.
    packed = await wait_for_order(
        api, number, lambda o: o["current_step"] == "collection", timeout=20
    )
    assert packed["status"] == "open"
    assert (await api.get(f"/api/inventory/{sku}")).json()["on_hand"] == 2

    today = datetime.now(UTC).date().isoformat()
    journal = (
        await api.get("/api/accounting/journal", params={"from": today, "to": today})
    ).json()["data"]
    cogs = [p for p in journal if p["document"] == f"COGS-{number}"]
    # 3 packed at the average 9.50.
    assert {(p["account"], Decimal(p["debit"]), Decimal(p["credit"])) for p in cogs} == {
        ("5000", Decimal("28.50"), Decimal(0)),
        ("1300", Decimal(0), Decimal("28.50")),
    }
    assert all(p["order"] == number and p["journal"] == "STOCK" for p in cogs)

    # The staff order page: revenue 75.00 against the packed cost 28.50.
    admin = await staff_client(api, ADMIN_TOKEN)
    page = (await admin.get(f"/orders/{number}")).text
    assert 'data-testid="line-cost">28.50' in page
    assert 'data-testid="order-margin">46.50' in page and "62.0%" in page
    sales = await create_employee(api, ["sales"], clearance=5)
    rep = await staff_client(api, sales["token"])
    assert 'data-testid="order-margin"' in (await rep.get(f"/orders/{number}")).text
    desk = await create_employee(api, ["warehouse"])
    picker = await staff_client(api, desk["token"])
    seen = await picker.get(f"/orders/{number}")
    assert seen.status_code == 200 and 'data-testid="order-margin"' not in seen.text
