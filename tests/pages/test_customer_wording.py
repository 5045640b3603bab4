"""Customers read their own words: stages instead of step names, no trail texts, staff addresses
or internal cancel reasons (on the page or in the mail); a quote says until when it holds; a
discount says which agreement and how much off list. Staff read the trail as sentences, in UTC."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from conveyor.core.db import session_scope
from conveyor.notification.models import OutboxMessage
from conveyor.order.wording import customer_cancel_reason, percent_off, staff_event
from tests.conftest import ADMIN_TOKEN, RULES
from tests.utils.api import (
    auth,
    create_customer,
    create_employee,
    create_product,
    place_order,
    wait_for_open_task,
    wait_for_order,
)
from tests.utils.pages import customer_client, open_customer_account, staff_client

# What the trail and the staff pages say that a customer must never read.
INTERNAL = (
    "allocation",
    "collection",
    "stock_check",
    "stock check",
    "on-hand",
    "pick list",
    "step_completed",
    " done ",
    "automatic",
)


@pytest.fixture
def rules_dir() -> Path:
    """Wholesale quotes; web orders get an order-desk task for allocation."""
    return RULES / "pages"


async def test_customer_reads_stages_and_a_discount_explained_staff_read_sentences(
    api: httpx.AsyncClient, worker, engine: Engine
) -> None:
    product = await create_product(api, on_hand=20, price="20.00", name="Desk lamp")
    customer = await create_customer(api, name="Wording Buyer")
    agreement = await api.post(
        "/api/price-agreements",
        json={
            "name": "Loyal buyer",
            "sku": product["sku"],
            "customer_id": customer["id"],
            "discount_percent": "15",
        },
    )
    assert agreement.status_code == 201, agreement.text
    desk = await create_employee(api, ["order_desk"])
    number = (await place_order(api, customer["id"], [(product["sku"], 3)], channel="web"))[
        "number"
    ]
    task = await wait_for_open_task(api, number, "allocation")
    done = await api.post(
        f"/api/tasks/{task['id']}/complete",
        json={"outcome": "approved", "note": "internal: checked the credit file"},
        headers=auth(desk),
    )
    assert done.status_code == 200, done.text
    await wait_for_order(api, number, lambda o: o["current_step"] == "collection")

    open_customer_account(engine, customer["id"], "wording-pass")
    shopper = await customer_client(api, customer["email"], "wording-pass")
    page = (await shopper.get(f"/customer/orders/{number}")).text
    offer = (await shopper.get(f"/shop/products/{product['sku']}")).text
    await shopper.aclose()
    assert "15 % off list 20.00 (agreement “Loyal buyer”)" in offer
    assert f"agreement {agreement.json()['id']}:" not in offer
    main = page[page.index("<main") :]
    for word in (*INTERNAL, desk["email"], "credit file"):
        assert word not in main.lower(), word
    for stage in ("Confirmed", "Prepared and shipped", "Invoiced", "Awaiting payment"):
        assert f"<strong>{stage}</strong>" in main, stage
    assert 'data-stage="payment" data-state="current"' in main
    assert 'data-stage="quote"' not in main  # it never was a quote
    assert "Your order is packed and on its way." in main
    assert "Your price: 15 % off list 20.00 (agreement “Loyal buyer”)" in main

    staff = await staff_client(api, ADMIN_TOKEN)
    trail = (await staff.get(f"/orders/{number}")).text
    await staff.aclose()
    assert "When (UTC)" in trail and " UTC</td>" in trail
    assert "Stock checked: all 3 items available." in trail
    assert "Pick list printed: 1 line." in trail
    assert "Packed; the goods left stock on hand." in trail
    assert "stock_check done" not in trail and "on-hand deducted" not in trail
    assert "Loyal buyer: 15 % off list 20.00" in trail


async def test_a_quote_shows_its_expiry_and_an_internal_cancel_reason_stays_inside(
    api: httpx.AsyncClient, worker, engine: Engine
) -> None:
    product = await create_product(api, on_hand=20, price="50.00")
    buyer = await create_customer(api, name="Quote Reader", group="wholesale")
    quote = await place_order(api, buyer["id"], [(product["sku"], 1)], quote=True)
    until = date.fromisoformat(quote["quote_valid_until"]).strftime("%d %B %Y")
    await wait_for_open_task(api, quote["number"], "quote")
    ruled = await place_order(api, buyer["id"], [(product["sku"], 3)])  # a quote by the rules
    await wait_for_open_task(api, ruled["number"], "quote")
    other = await place_order(api, buyer["id"], [(product["sku"], 2)])
    await wait_for_open_task(api, other["number"], "quote")
    reason = "suspected reseller, see the fraud notes"
    cancelled = await api.post(f"/api/orders/{other['number']}/cancel", params={"reason": reason})
    assert cancelled.status_code == 200, cancelled.text
    await wait_for_order(api, other["number"], lambda o: o["status"] == "cancelled")

    open_customer_account(engine, buyer["id"], "quote-reader-pass")
    shopper = await customer_client(api, buyer["email"], "quote-reader-pass")
    center = (await shopper.get("/customer")).text
    assert f"valid until {until}" in center
    shown = (await shopper.get(f"/customer/orders/{quote['number']}")).text
    assert f"Valid until {until}." in shown
    assert "<strong>Quote</strong>" in shown and 'data-stage="quote" data-state="current"' in shown
    by_rule = (await shopper.get(f"/customer/orders/{ruled['number']}")).text
    assert 'data-testid="quote-valid-until">Valid until ' in by_rule and " UTC." in by_rule
    gone = (await shopper.get(f"/customer/orders/{other['number']}")).text
    await shopper.aclose()
    assert "Your order was cancelled." in gone and ">Cancelled<" in gone
    assert "fraud" not in gone and "reseller" not in gone

    with session_scope(engine) as session:
        mails = session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == "order_cancelled")
        ).all()
    assert mails, "no cancel mail"
    for mail in mails:
        assert "fraud" not in mail.body_text and "fraud" not in mail.body_html
        assert f"Your order {other['number']} has been cancelled." in mail.body_text


def test_wording_maps_the_stored_texts() -> None:
    assert staff_event("step_completed", "stock_check", "stock_check done") == (
        "Stock checked: the items are available."
    )
    assert staff_event("step_started", "picking", "picking (task)") == (
        "Picking started as a task for a person."
    )
    assert staff_event("pick_list", "picking", "pick list with 2 lines") == (
        "Pick list printed: 2 lines."
    )
    assert staff_event("packed", "packing", "shipment 2 packed; on-hand deducted") == (
        "Shipment 2 packed; the goods left stock on hand."
    )
    assert staff_event("completed", None, "order completed") == "Order completed."
    assert staff_event("task_completed", "picking", "task 4: done (bin A)") == (
        "Task 4 completed: done (bin A)."
    )
    assert customer_cancel_reason("quote void: SO-1 was accepted") == (
        "you accepted quote SO-1 instead"
    )
    assert percent_off(Decimal("20.00"), Decimal("17.50")) == "12.5"
    assert percent_off(Decimal("20.00"), Decimal("20.00")) is None
    assert customer_cancel_reason("picking rejected") is None
    assert customer_cancel_reason("call me maybe") is None
