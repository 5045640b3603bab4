"""Signed webhooks end to end: real app, worker, Temporal, SQLite and PostgreSQL."""

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from conveyor.core.db import session_scope
from conveyor.core.settings import Settings
from conveyor.webhook import connections, stripe
from conveyor.webhook import service as webhook_service
from conveyor.webhook.models import StoreOrder, WebhookDelivery
from conveyor.webhook.signatures import sign_base64
from tests.conftest import RULES
from tests.utils.api import create_product, wait_for_open_task, wait_for_order
from tests.webhook.conftest import (
    SHOPIFY_ID,
    SHOPIFY_SECRET,
    post_shopify,
    post_stripe,
    post_woocommerce,
    sample,
    shopify_order,
    woocommerce_order,
)

SHOPIFY_SKUS = {"SKU2006-001": "89.99", "SKU2006-020": "159.99", "SKU2006-035": "119.99"}


async def _catalogue(api: httpx.AsyncClient, skus: dict[str, str] = SHOPIFY_SKUS) -> None:
    for sku, price in skus.items():
        await create_product(api, sku=sku, price=price, on_hand=50)


async def _orders(api: httpx.AsyncClient, **filters: str) -> list[dict]:
    response = await api.get("/api/orders", params=filters)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def _deliveries(api: httpx.AsyncClient, **filters: str) -> list[dict]:
    response = await api.get("/api/webhook-deliveries", params=filters)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _stripe_event(name: str, **object_fields: object) -> bytes:
    event = json.loads(sample(name))
    event["data"]["object"].update(object_fields)
    return json.dumps(event).encode()


async def test_shopify_order_creates_one_order_with_store_prices(
    api: httpx.AsyncClient, worker, engine
) -> None:
    await _catalogue(api)
    webhook_id = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    response = await post_shopify(api, shopify_order(), webhook_id=webhook_id)
    assert response.status_code == 200, response.text
    ack = response.json()
    assert ack["outcome"] == "processed"
    number = ack["order_number"]

    # The workflow runs (every step auto here) and waits for the payment at collection.
    order = await wait_for_order(api, number, lambda o: o["current_step"] == "collection")
    assert order["channel"] == "web"
    assert order["external_ref"] == f"shopify:{SHOPIFY_ID}"  # exact: the id exceeds 2^53
    assert order["needs_review"] is False
    assert [(ln["sku"], ln["qty"], ln["unit_price"]) for ln in order["lines"]] == [
        (sku, 1, price) for sku, price in SHOPIFY_SKUS.items()
    ]
    # As the store charged it: 369.97 of lines, 20.00 discount, 10.00 shipping, no tax.
    assert order["totals"]["subtotal"] == "369.97"
    assert order["totals"]["total"] == "359.97"
    assert order["totals"]["invoiced"] == "359.97"
    assert order["currency"] == "USD"
    assert "received" in [e["kind"] for e in order["events"]]
    customer = (await api.get(f"/api/customers/{order['customer_id']}")).json()
    assert customer["email"] == "jon@example.com"
    assert customer["name"] == "John Smith"

    with Session(engine) as session:
        row = session.exec(select(StoreOrder)).one()
        assert row.external_id == SHOPIFY_ID
        assert row.external_number == "#9999"
        assert (row.discount, row.shipping, row.tax) == (
            Decimal("20.00"),
            Decimal("10.00"),
            Decimal("0.00"),
        )
        assert row.shipping_address["city"] == "Shippington"
        delivery = session.exec(select(WebhookDelivery)).one()
        assert delivery.body == shopify_order()  # the raw body, byte for byte
        assert delivery.delivery_id == webhook_id
        assert delivery.source == "127.0.0.1"
        assert delivery.body_size == len(shopify_order())
        assert delivery.headers["x-shopify-hmac-sha256"] == "[redacted]"
        assert delivery.received_at is not None


async def test_same_delivery_five_times_and_five_at_once_make_one_order(
    api: httpx.AsyncClient, worker
) -> None:
    await _catalogue(api)
    # Shopify's retries of one delivery (one webhook id): stored once, the repeats counted.
    retried = [
        (await post_shopify(api, shopify_order(), webhook_id="retried")).json() for _ in range(5)
    ]
    assert [a["outcome"] for a in retried] == ["processed"] + ["duplicate"] * 4
    assert len({a["delivery"] for a in retried}) == 1
    assert len({a["order_number"] for a in retried}) == 1
    assert len(await _orders(api, external_ref=f"shopify:{SHOPIFY_ID}")) == 1

    # Five deliveries (five webhook ids) of one order at once: one order, every delivery kept.
    other = "820982911946154509"
    answers = await asyncio.gather(*(post_shopify(api, shopify_order(other)) for _ in range(5)))
    assert [a.status_code for a in answers] == [200] * 5
    assert sorted(a.json()["outcome"] for a in answers) == ["duplicate"] * 4 + ["processed"]
    assert len({a.json()["order_number"] for a in answers}) == 1
    assert len(await _orders(api, external_ref=f"shopify:{other}")) == 1
    assert len(await _orders(api)) == 2
    deliveries = await _deliveries(api, provider="shopify")
    assert len(deliveries) == 6
    assert sorted(d["repeats"] for d in deliveries) == [0] * 5 + [4]


async def test_bad_signatures_are_401_recorded_and_change_nothing(api: httpx.AsyncClient) -> None:
    body = shopify_order()
    wrong = await post_shopify(api, body, secret="not-the-secret")
    missing = await post_shopify(api, body, signature="")
    # Signed for the real body, sent with a cheaper price: the signature no longer matches.
    forged = await post_shopify(
        api, body.replace(b"89.99", b"0.99"), signature=sign_base64(body, SHOPIFY_SECRET)
    )
    stale = await post_stripe(
        api, sample("stripe_payment_intent_succeeded.json"), timestamp=int(time.time()) - 600
    )
    stripe_wrong = await post_stripe(
        api, sample("stripe_payment_intent_succeeded.json"), secret="whsec_wrong"
    )
    stripe_missing = await api.post(
        "/webhooks/stripe", content=sample("stripe_payment_intent_succeeded.json")
    )
    woo_missing = await api.post(
        "/webhooks/woocommerce",
        content=sample("woocommerce_order_created.json"),
        headers={"X-WC-Webhook-Topic": "order.created"},
    )
    refused = [wrong, missing, forged, stale, stripe_wrong, stripe_missing, woo_missing]
    assert [r.status_code for r in refused] == [401] * len(refused)
    assert missing.json()["detail"] == "missing x-shopify-hmac-sha256 header"
    assert "tolerance" in stale.json()["detail"]
    rejected = await _deliveries(api, outcome="rejected")
    assert len(rejected) == len(refused)
    assert all(not d["signature_valid"] for d in rejected)
    assert await _orders(api) == []


async def test_truncated_json_is_400_recorded_and_changes_nothing(api: httpx.AsyncClient) -> None:
    body = shopify_order()[:500]
    response = await post_shopify(api, body)
    assert response.status_code == 400
    assert response.json()["outcome"] == "malformed"
    stripe = await post_stripe(api, sample("stripe_charge_refunded.json")[:-40])
    assert stripe.status_code == 400
    not_an_order = await post_shopify(api, b'{"id": 1, "line_items": "many"}')
    assert not_an_order.status_code == 400
    assert "line_items" in not_an_order.json()["detail"]
    assert len(await _deliveries(api, outcome="malformed")) == 3
    assert await _orders(api) == []


async def test_woocommerce_ping_is_200_and_creates_nothing(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/webhooks/woocommerce",
        content=b"webhook_id=12",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "ping"
    assert await _orders(api) == []
    assert [d["outcome"] for d in await _deliveries(api)] == ["ping"]


async def test_woocommerce_order_without_sku_is_recorded_for_review(
    api: httpx.AsyncClient, worker
) -> None:
    await create_product(api, sku="Bar3", price="12.00", on_hand=5)
    response = await post_woocommerce(api, woocommerce_order())
    assert response.status_code == 200, response.text
    number = response.json()["order_number"]
    assert "needs review" in response.json()["detail"]

    task = await wait_for_open_task(api, number, "stock_check")
    assert task["role"] == "order_desk"
    order = (await api.get(f"/api/orders/{number}")).json()
    assert order["needs_review"] is True
    assert order["external_ref"] == "woocommerce:727"
    assert order["totals"]["total"] == "29.35"  # lines 18.00 + shipping 10.00 + tax 1.35
    assert [ln["line_total"] for ln in order["lines"]] == ["6.00", "12.00"]
    assert any("line without SKU: Woo Single #1" in e["message"] for e in order["events"])
    review = (await api.get("/api/orders", params={"needs_review": "true"})).json()
    assert [o["number"] for o in review["data"]] == [number]
    assert (await api.get("/api/orders", params={"needs_review": "false"})).json()["count"] == 0


@pytest.mark.parametrize("rules_dir", [RULES / "all_auto"])
async def test_a_repeat_of_a_payment_whose_first_attempt_died_is_retried_then_taken_over(
    api: httpx.AsyncClient, worker, engine, settings: Settings, rules_dir: Path
) -> None:
    await _catalogue(api)
    number = (await post_shopify(api, shopify_order())).json()["order_number"]
    await wait_for_order(api, number, lambda o: o["current_step"] == "collection")
    paid = _stripe_event(
        "stripe_payment_intent_succeeded.json",
        amount=35997,
        amount_received=35997,
        metadata={"order_number": number},
    )
    # The first attempt stored the event, as the API does before acting on it, and its process
    # died there (SIGKILL): the row stays `received`.
    (store,) = connections.for_provider(settings, "stripe")
    with session_scope(engine) as session:
        first, _ = webhook_service.claim_delivery(
            session=session,
            now=datetime.now(UTC),
            provider="stripe",
            headers={},
            body=paid,
            store=store.name,
            delivery_id=stripe.event_id(paid),
            signature_valid=True,
            source="127.0.0.1",
        )
    # Stripe's retry meets it in flight: asked to retry later, never "duplicate" (a 200 would
    # end Stripe's retries and the payment would wait for a person).
    retried = await post_stripe(api, paid)
    assert retried.status_code == 503, retried.text
    assert retried.headers["Retry-After"] == str(webhook_service.RETAKE_RECEIVED_AFTER_SECONDS)
    assert "being processed" in retried.json()["detail"]
    assert (await api.get(f"/api/orders/{number}")).json()["status"] != "completed"

    # A retry after the retake window takes the delivery over and acts on it, once.
    with session_scope(engine) as session:
        row = session.get(WebhookDelivery, first.id)
        assert row is not None and row.outcome == "received"
        row.received_at = datetime.now(UTC) - timedelta(
            seconds=webhook_service.RETAKE_RECEIVED_AFTER_SECONDS + 1
        )
        session.add(row)
    taken = await post_stripe(api, paid)
    assert taken.status_code == 200, taken.text
    assert (taken.json()["outcome"], taken.json()["delivery"]) == ("processed", first.id)
    final = await wait_for_order(api, number, lambda o: o["status"] == "completed")
    assert final["totals"]["paid"] == "359.97"
    again = await post_stripe(api, paid)
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")


@pytest.mark.parametrize("rules_dir", [RULES / "all_auto"])
async def test_stripe_payment_completes_the_waiting_order_and_refund_is_recorded(
    api: httpx.AsyncClient, worker, rules_dir: Path
) -> None:
    await _catalogue(api)
    number = (await post_shopify(api, shopify_order())).json()["order_number"]
    await wait_for_order(api, number, lambda o: o["current_step"] == "collection")

    paid = _stripe_event(
        "stripe_payment_intent_succeeded.json",
        amount=35997,
        amount_received=35997,
        metadata={"order_number": number},
    )
    response = await post_stripe(api, paid)
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "processed"
    final = await wait_for_order(api, number, lambda o: o["status"] == "completed")
    assert final["totals"]["paid"] == "359.97"
    again = await post_stripe(api, paid)  # Stripe retries: recorded once
    assert again.json()["outcome"] == "duplicate"

    refund = _stripe_event(
        "stripe_charge_refunded.json",
        amount=35997,
        amount_refunded=1000,
        payment_intent="pi_3MtwBwLkdIwHu7ix28a3tqPa",
    )
    refunded = await post_stripe(api, refund)
    assert refunded.json()["outcome"] == "processed", refunded.text
    assert (await post_stripe(api, refund)).json()["outcome"] == "duplicate"
    order = (await api.get(f"/api/orders/{number}")).json()
    assert order["totals"]["paid"] == "349.97"
    assert {"payment", "refund"} <= {e["kind"] for e in order["events"]}


async def test_unknown_order_payment_is_kept_for_review_then_replayed(
    api: httpx.AsyncClient, worker
) -> None:
    # The payment arrives before the order it pays (metadata carries the store's order id).
    early = _stripe_event(
        "stripe_checkout_session_completed.json",
        amount_total=35997,
        metadata={"order_id": SHOPIFY_ID},
    )
    response = await post_stripe(api, early)
    assert response.status_code == 200  # answered, so Stripe does not retry for days
    assert response.json()["outcome"] == "unmatched"
    review = await _deliveries(api, outcome="unmatched")
    assert [d["id"] for d in review] == [response.json()["delivery"]]
    assert "matched no order" in review[0]["detail"]
    full = (await api.get(f"/api/webhook-deliveries/{review[0]['id']}")).json()
    assert json.loads(full["body"])["type"] == "checkout.session.completed"
    assert full["headers"]["stripe-signature"] == "[redacted]"

    await _catalogue(api)
    number = (await post_shopify(api, shopify_order())).json()["order_number"]
    await wait_for_order(api, number, lambda o: o["current_step"] == "collection")
    replayed = await api.post(f"/api/webhook-deliveries/{review[0]['id']}/replay")
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["outcome"] == "processed"
    assert replayed.json()["order_number"] == number
    await wait_for_order(api, number, lambda o: o["status"] == "completed")
    assert (await api.post(f"/api/webhook-deliveries/{review[0]['id']}/replay")).json()[
        "outcome"
    ] == "duplicate"

    rejected = await post_shopify(api, shopify_order(), secret="wrong")
    refused = await api.post(f"/api/webhook-deliveries/{rejected.json()['delivery']}/replay")
    assert refused.status_code == 409
    assert (await api.post("/api/webhook-deliveries/999999/replay")).status_code == 404


@pytest.mark.parametrize("rules_dir", [RULES / "picking_task"])
async def test_store_cancellation_cancels_the_running_order(
    api: httpx.AsyncClient, worker, rules_dir: Path
) -> None:
    await _catalogue(api)
    number = (await post_shopify(api, shopify_order())).json()["order_number"]
    await wait_for_open_task(api, number, "picking")
    response = await post_shopify(api, shopify_order(), topic="orders/cancelled")
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "processed"
    order = await wait_for_order(api, number, lambda o: o["status"] == "cancelled")
    assert all(t["status"] == "cancelled" for t in order["tasks"])
    again = await post_shopify(api, shopify_order(), topic="orders/cancelled")
    assert again.json()["outcome"] == "duplicate"


async def test_store_cancellation_after_packing_is_kept_for_review(
    api: httpx.AsyncClient, worker
) -> None:
    await _catalogue(api)
    number = (await post_shopify(api, shopify_order())).json()["order_number"]
    await wait_for_order(api, number, lambda o: o["current_step"] == "collection")
    response = await post_shopify(api, shopify_order(), topic="orders/cancelled")
    assert response.status_code == 200
    assert response.json()["outcome"] == "needs_review"
    assert "once it reached collection" in response.json()["detail"]
    order = (await api.get(f"/api/orders/{number}")).json()
    assert order["status"] == "open"
    assert any(e["kind"] == "store_update" for e in order["events"])


async def test_delivery_log_is_admin_only(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/webhook-deliveries", headers={"Authorization": "Bearer x"})
    assert response.status_code == 401


async def test_store_update_amends_an_order_held_for_review_and_deletion_cancels_it(
    api: httpx.AsyncClient, worker
) -> None:
    await create_product(api, sku="Bar3", price="12.00", on_hand=5)
    await create_product(api, sku="WOO-SINGLE", price="2.50", on_hand=5)
    body = woocommerce_order()
    number = (await post_woocommerce(api, body)).json()["order_number"]
    await wait_for_open_task(api, number, "stock_check")  # held for the order desk

    fixed = json.loads(body)
    fixed["line_items"][0]["sku"] = "WOO-SINGLE"  # the shop gives the product its SKU
    updated = await post_woocommerce(api, json.dumps(fixed).encode(), topic="order.updated")
    assert updated.status_code == 200, updated.text
    assert updated.json()["outcome"] == "processed", updated.text
    assert updated.json()["detail"] == "lines amended"
    order = (await api.get(f"/api/orders/{number}")).json()
    assert sorted((ln["sku"], ln["qty"], ln["line_total"]) for ln in order["lines"]) == [
        ("Bar3", 1, "12.00"),
        ("WOO-SINGLE", 2, "6.00"),  # the store's price, not the catalogue's 2.50
    ]
    assert order["totals"]["total"] == "29.35"
    same = await post_woocommerce(api, json.dumps(fixed).encode(), topic="order.updated")
    assert same.json()["detail"] == "no change to the lines"

    deleted = await post_woocommerce(api, b'{"id": 727}', topic="order.deleted")
    assert deleted.json()["outcome"] == "processed", deleted.text
    await wait_for_order(api, number, lambda o: o["status"] == "cancelled")


@pytest.mark.parametrize("rules_dir", [RULES / "picking_task"])
async def test_store_change_after_allocation_is_kept_for_review(
    api: httpx.AsyncClient, worker, rules_dir: Path
) -> None:
    await _catalogue(api)
    number = (await post_shopify(api, shopify_order())).json()["order_number"]
    await wait_for_open_task(api, number, "picking")
    changed = json.loads(shopify_order())
    changed["cancelled_at"] = None
    changed["line_items"][0]["quantity"] = 2
    response = await post_shopify(api, json.dumps(changed).encode(), topic="orders/updated")
    assert response.status_code == 200
    assert response.json()["outcome"] == "needs_review"
    assert "cannot be amended once it reached picking" in response.json()["detail"]
    order = (await api.get(f"/api/orders/{number}")).json()
    assert [ln["qty"] for ln in order["lines"]] == [1, 1, 1]  # unchanged
    assert any(e["kind"] == "store_update" for e in order["events"])


async def test_order_without_email_is_recorded_for_the_order_desk(
    api: httpx.AsyncClient, worker
) -> None:
    await _catalogue(api)
    anonymous = json.loads(shopify_order())
    anonymous["email"] = anonymous["contact_email"] = anonymous["customer"]["email"] = None
    response = await post_shopify(api, json.dumps(anonymous).encode())
    assert response.status_code == 200, response.text
    number = response.json()["order_number"]
    task = await wait_for_open_task(api, number, "stock_check")
    assert task["role"] == "order_desk"
    order = (await api.get(f"/api/orders/{number}")).json()
    assert order["needs_review"] is True
    assert any("no customer e-mail" in e["message"] for e in order["events"])
    customer = (await api.get(f"/api/customers/{order['customer_id']}")).json()
    assert customer["email"] == "unknown@shopify.webhook.invalid"
