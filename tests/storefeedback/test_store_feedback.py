"""Store feedback against a local stand-in of the stores' APIs: a Shopify order shipped in
Conveyor is one fulfillment with its tracking (also when the store fails twice first), a
WooCommerce order is completed with a customer note, and a cancellation reaches the store."""

import asyncio
from decimal import Decimal

import httpx
import pytest
from sqlalchemy.engine import Engine

from tests.conftest import ADMIN_TOKEN, RULES
from tests.shipping.test_delivery import _pack
from tests.storefeedback.conftest import SHOPIFY_BASE, SHOPIFY_ITEMS, TOKEN, StandIn
from tests.utils.api import wait_for_open_task, wait_for_order
from tests.utils.pages import staff_client
from tests.utils.storefeedback import (
    feedback_rows,
    lose_commit,
    open_shopify_order,
    place_shopify_order,
    place_woocommerce_order,
    until,
    until_status,
)
from tests.webhook.conftest import post_shopify


async def test_shopify_order_shipped_is_one_fulfillment_with_tracking_after_two_failures(
    api: httpx.AsyncClient, worker, engine: Engine, stand_in: StandIn
) -> None:
    number = await place_shopify_order(api)
    stand_in.fail_next = 2
    await _pack(api, number, 1, {"carrier": "dhl", "tracking": "JD0146000012345"})

    await until(lambda: len(stand_in.writes()) == 3, f"3 attempts: {stand_in.requests}")
    first, second, third = stand_in.writes()
    assert all(w["path"] == f"{SHOPIFY_BASE}/fulfillments.json" for w in (first, second, third))
    assert first["json"] == third["json"]
    assert third["headers"]["x-shopify-access-token"] == TOKEN
    assert third["headers"]["idempotency-key"] == f"{number}:s1:fulfil"
    fulfillment = third["json"]["fulfillment"]
    assert fulfillment["tracking_info"] == {
        "number": "JD0146000012345",
        "url": "https://www.dhl.com/track?id=JD0146000012345",
        "company": "dhl",
    }
    (group,) = fulfillment["line_items_by_fulfillment_order"]
    assert sorted(i["quantity"] for i in group["fulfillment_order_line_items"]) == [1, 1, 1]
    await until_status(engine, "sent", "the row marked sent")
    (row,) = feedback_rows(engine)
    assert (row.attempts, row.last_status) == (3, 201)

    # Once the store took it, the order page says nothing of it.
    page = (await (await staff_client(api, ADMIN_TOKEN)).get(f"/orders/{number}")).text
    assert "Store not updated yet" not in page
    await asyncio.sleep(1.0)
    assert len(stand_in.writes()) == 3  # never sent again once the store answered 2xx

    # A worker killed after the store's 2xx but before its commit tries the row again: the
    # store's fulfillment orders show it fulfilled, so nothing is posted twice.
    lose_commit(engine)
    reads = len(stand_in.requests)
    await until_status(engine, "sent", "the row sent again")
    assert len(stand_in.requests) > reads  # it looked at the store
    assert len(stand_in.writes()) == 3


async def test_failure_is_said_on_the_order_page_and_the_order_goes_on(
    api: httpx.AsyncClient, worker, engine: Engine, stand_in: StandIn
) -> None:
    number = await place_shopify_order(api)
    stand_in.fail_next = 1000
    await _pack(api, number, 1, {"carrier": "dhl", "tracking": "JD1"})
    await until(lambda: stand_in.writes(), "a first attempt")
    await until(lambda: feedback_rows(engine)[0].last_error is not None, "the failure recorded")
    staff = await staff_client(api, ADMIN_TOKEN)
    page = (await staff.get(f"/orders/{number}")).text
    assert "Store not updated yet: HTTP 503" in page
    assert "next try" in page
    monitor = (await staff.get("/monitor")).text
    assert "Stores not updated yet" in monitor and f"{number}</a> (shopify, fulfil)" in monitor
    order = (await api.get(f"/api/orders/{number}")).json()
    assert order["current_step"] in ("delivery", "collection")  # not held by the store


async def test_woocommerce_order_shipped_is_completed_with_a_tracking_note(
    api: httpx.AsyncClient, worker, engine: Engine, stand_in: StandIn
) -> None:
    number, _ = await place_woocommerce_order(api)
    await _pack(api, number, 1, {"carrier": "dhl", "tracking": "JD0146000099"})

    await until(lambda: len(stand_in.writes()) == 2, f"status and note: {stand_in.requests}")
    status, note = stand_in.writes()
    assert (status["method"], status["json"]) == ("PUT", {"status": "completed"})
    assert note["method"] == "POST" and note["path"].endswith("/orders/727/notes")
    assert "JD0146000099" in note["json"]["note"]
    assert "https://www.dhl.com/track?id=JD0146000099" in note["json"]["note"]
    await until_status(engine, "sent", "the row marked sent")

    # Tried again after a lost commit: the status is set again, the note is not added twice.
    lose_commit(engine)
    await until(lambda: len(stand_in.writes()) == 3, "the status set again")
    await until_status(engine, "sent", "the row sent again")
    assert len(stand_in.notes) == 1


@pytest.mark.parametrize("rules_dir", [RULES / "picking_task"])  # cancelled before packing
async def test_cancellation_in_conveyor_reaches_the_store(
    api: httpx.AsyncClient, worker, engine: Engine, stand_in: StandIn
) -> None:
    number = await place_shopify_order(api)
    await wait_for_open_task(api, number, "picking")
    cancelled = await api.post(f"/api/orders/{number}/cancel", params={"reason": "out of stock"})
    assert cancelled.status_code == 200, cancelled.text
    await wait_for_order(api, number, lambda o: o["status"] == "cancelled")
    await until(lambda: stand_in.writes("cancel.json"), f"a cancel: {stand_in.requests}")
    (cancel,) = stand_in.writes()
    assert cancel["method"] == "POST"
    assert cancel["headers"]["x-shopify-access-token"] == TOKEN
    await until_status(engine, "sent", "the row marked sent")


@pytest.mark.parametrize("rules_dir", [RULES / "picking_task"])
async def test_cancellation_by_the_store_is_not_sent_back(
    api: httpx.AsyncClient, worker, engine: Engine, stand_in: StandIn
) -> None:
    number = await place_shopify_order(api)
    await wait_for_open_task(api, number, "picking")
    gone = await post_shopify(api, open_shopify_order(), topic="orders/cancelled")
    assert gone.status_code == 200, gone.text
    await wait_for_order(api, number, lambda o: o["status"] == "cancelled")
    await asyncio.sleep(1.0)
    assert stand_in.requests == [] and feedback_rows(engine) == []


async def test_shopify_422_for_a_fulfillment_order_closed_meanwhile_is_done_not_retried(
    api: httpx.AsyncClient, worker, engine: Engine, stand_in: StandIn
) -> None:
    number = await place_shopify_order(api)
    stand_in.merchant_fulfils = True  # fulfilled in Shopify's admin between our read and post
    await _pack(api, number, 1, {"carrier": "dhl", "tracking": "JD422"})
    await until_status(engine, "already", f"done: {stand_in.requests}")
    (row,) = feedback_rows(engine)
    assert (row.attempts, row.last_status) == (1, 422)
    assert "Invalid fulfillment order line item quantity" in (row.last_error or "")
    staff = await staff_client(api, ADMIN_TOKEN)
    page = (await staff.get(f"/orders/{number}")).text
    assert "The store had it already (fulfil): HTTP 422" in page
    assert "Store not updated yet" not in page
    assert f"{number}</a> (shopify, fulfil)" not in (await staff.get("/monitor")).text
    await asyncio.sleep(1.5)  # well past the first retry's 0.3 s
    assert len(stand_in.writes("fulfillments.json")) == 1 and stand_in.fulfillments == []


@pytest.mark.parametrize("rules_dir", [RULES / "picking_task"])
async def test_shopify_422_for_an_order_cancelled_there_already_is_done_not_retried(
    api: httpx.AsyncClient, worker, engine: Engine, stand_in: StandIn
) -> None:
    number = await place_shopify_order(api)
    await wait_for_open_task(api, number, "picking")
    stand_in.merchant_cancelled = True  # its orders/cancelled webhook not here yet
    cancelled = await api.post(f"/api/orders/{number}/cancel", params={"reason": "no stock"})
    assert cancelled.status_code == 200, cancelled.text
    await until_status(engine, "already", "done")
    (row,) = feedback_rows(engine)
    assert (row.attempts, row.last_status) == (1, 422)
    page = (await (await staff_client(api, ADMIN_TOKEN)).get(f"/orders/{number}")).text
    assert "The store had it already (cancel): HTTP 422" in page
    await asyncio.sleep(1.5)
    assert len(stand_in.writes("cancel.json")) == 1


async def test_shopify_422_for_anything_else_is_retried(
    api: httpx.AsyncClient, worker, engine: Engine, stand_in: StandIn
) -> None:
    """A 422 the store's state does not explain (the fulfillment order still open) is a
    refusal like any other: retried with backoff, said on the order page."""
    number = await place_shopify_order(api)
    stand_in.refuse_422 = True
    await _pack(api, number, 1, {"carrier": "dhl", "tracking": "JD4221"})
    await until(lambda: len(stand_in.writes("fulfillments.json")) >= 2, "tried again")
    (row,) = feedback_rows(engine)
    assert row.status == "pending" and row.last_status == 422


async def _paid(api: httpx.AsyncClient, number: str) -> None:
    """Pay the order's balance once invoiced, and see it completed."""
    order = await wait_for_order(api, number, lambda o: o["current_step"] == "collection", 90)
    paid = await api.post(
        f"/api/orders/{number}/payments", json={"amount": order["totals"]["balance"]}
    )
    assert paid.status_code == 201, paid.text
    await wait_for_order(api, number, lambda o: o["status"] == "completed")


async def _returned(api: httpx.AsyncClient, number: str, sku: str) -> dict:
    """A return of one `sku` authorised and received: its credit note and refund."""
    created = await api.post(
        f"/api/orders/{number}/returns", json={"lines": [{"sku": sku, "qty": 1}]}
    )
    assert created.status_code == 201, created.text
    received = await api.post(f"/api/returns/{created.json()['number']}/receive", json={})
    assert received.status_code == 200, received.text
    return received.json()


@pytest.mark.parametrize("rules_dir", [RULES / "all_auto"])  # shipped, paid and done at once
async def test_a_refund_decided_in_conveyor_is_one_shopify_refund(
    api: httpx.AsyncClient, worker, engine: Engine, stand_in: StandIn
) -> None:
    number = await place_shopify_order(api)
    await _paid(api, number)
    sku = SHOPIFY_ITEMS[0]["sku"]
    rma = await _returned(api, number, sku)
    assert Decimal(rma["refund_total"]) > 0, rma
    key = f"{number}:{rma['number']}:refund"

    await until(lambda: len(stand_in.refunds) == 1, f"a refund: {stand_in.requests}")
    (refund,) = stand_in.refunds
    assert refund["refund_line_items"] == [
        {"line_item_id": SHOPIFY_ITEMS[0]["id"], "quantity": 1, "restock_type": "no_restock"}
    ]
    (transaction,) = refund["transactions"]
    assert Decimal(transaction["amount"]) == Decimal(rma["refund_total"])
    assert key in refund["note"] and refund["notify"] is False
    calculate = stand_in.writes("refunds/calculate.json")
    assert len(calculate) == 1 and calculate[0]["headers"]["idempotency-key"] == key
    await until_status(engine, "sent", "the refund row sent", key=key)

    # Tried again after a lost commit: the store's refunds name the key, none is added.
    lose_commit(engine, key)
    await until_status(engine, "sent", "the row sent again", key=key)
    assert len(stand_in.refunds) == 1


@pytest.mark.parametrize("rules_dir", [RULES / "all_auto"])
async def test_a_refund_decided_in_conveyor_is_one_woocommerce_refund(
    api: httpx.AsyncClient, worker, engine: Engine, stand_in: StandIn
) -> None:
    number, body = await place_woocommerce_order(api)
    await _paid(api, number)
    rma = await _returned(api, number, body["line_items"][0]["sku"])
    assert Decimal(rma["refund_total"]) > 0, rma
    key = f"{number}:{rma['number']}:refund"
    await until(lambda: len(stand_in.woo_refunds) == 1, f"a refund: {stand_in.requests}")
    (refund,) = stand_in.woo_refunds
    assert refund["amount"] == rma["refund_total"]
    assert refund["api_refund"] is True and refund["api_restock"] is False
    assert refund["meta_data"] == [{"key": "conveyor_key", "value": key}]
    await until_status(engine, "sent", "the refund row sent", key=key)
    lose_commit(engine, key)
    await until_status(engine, "sent", "the row sent again", key=key)
    assert len(stand_in.woo_refunds) == 1
