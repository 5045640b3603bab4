"""Issue 12 findings 4-6 through the real app: strangers cannot fill the disk, replays and
out-of-order updates have no effect, store orders do not land on someone else's customer."""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select
from temporalio.client import Client

from api.main import create_app
from conveyor.audit.models import AuditEntry
from conveyor.core.settings import Settings
from conveyor.customer.models import Customer
from conveyor.order.models import OrderEvent, SalesOrder
from conveyor.webhook import flows as webhook_flows
from conveyor.webhook import service as webhook_service
from conveyor.webhook.models import Outcome, StoreOrder, WebhookDelivery
from tests.conftest import ADMIN_TOKEN
from tests.utils.api import create_customer, create_product, wait_for_open_task
from tests.webhook.conftest import (
    post_shopify,
    post_woocommerce,
    shopify_order,
    woocommerce_order,
)

LIMIT = 25
WINDOW = 600.0
SKUS = {"SKU2006-001": "89.99", "SKU2006-020": "159.99", "SKU2006-035": "119.99"}
STRANGER = "198.51.100.7"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A small limit on refused deliveries per address, so the test reaches it quickly."""
    return settings.model_copy(
        update={"webhook_refused_limit": LIMIT, "webhook_refused_window_seconds": WINDOW}
    )


@pytest.fixture
def app(settings: Settings, temporal_client: Client) -> FastAPI:
    app = create_app(settings)
    app.state.conveyor._client = temporal_client
    return app


@pytest_asyncio.fixture
async def stranger(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Someone on the internet at STRANGER, without a token or a signing secret."""
    transport = httpx.ASGITransport(app=app, client=(STRANGER, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://conveyor.test") as client:
        yield client


@pytest_asyncio.fixture
async def staff(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The admin, from another address."""
    transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 40001))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://conveyor.test",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=60,
    ) as client:
        yield client


async def _catalogue(api: httpx.AsyncClient) -> None:
    for sku, price in SKUS.items():
        await create_product(api, sku=sku, price=price, on_hand=50)


def _stored(engine: Engine) -> tuple[int, int, int]:
    """(rows, bytes of stored bodies, bytes of stored headers and details) of the log."""
    with Session(engine) as session:
        rows = session.exec(select(WebhookDelivery)).all()
        metadata = sum(len(json.dumps(r.headers)) + len(r.detail) for r in rows)
        return len(rows), sum(len(r.body) for r in rows), metadata


# ---- finding 4: the disk ----------------------------------------------------------------------


async def test_a_thousand_unsigned_deliveries_store_metadata_only(
    stranger: httpx.AsyncClient, staff: httpx.AsyncClient, engine: Engine
) -> None:
    body = b'{"id": 1, "pad": "' + b"x" * (100 * 1024) + b'"}'  # 100 KiB each, 100 MB in all
    junk = {f"X-Junk-{n}": "y" * 400 for n in range(40)}  # 16 KB of headers each
    answers = []
    for _ in range(1000):
        response = await stranger.post(
            "/webhooks/shopify",
            content=body,
            headers={**junk, "X-Shopify-Topic": "orders/create", "X-Shopify-Hmac-Sha256": "AAAA"},
        )
        answers.append(response)
    statuses = [r.status_code for r in answers]
    assert statuses == [401] * LIMIT + [429] * (1000 - LIMIT)
    assert answers[0].json()["outcome"] == "rejected"
    late = answers[-1]
    assert 1 <= int(late.headers["Retry-After"]) <= WINDOW
    assert "too many refused deliveries" in late.json()["detail"]

    rows, body_bytes, metadata = _stored(engine)
    assert rows == LIMIT  # bounded by the limit, not by what was sent
    assert body_bytes == 0  # no body kept
    assert metadata < LIMIT * 1000  # a few hundred bytes a row, not the 16 KB of headers
    with Session(engine) as session:
        kept = session.exec(select(WebhookDelivery)).all()
    assert {r.source for r in kept} == {STRANGER}
    assert {r.body_size for r in kept} == {len(body)}
    assert all(set(r.headers) <= webhook_service.REFUSED_HEADERS for r in kept)

    # A WooCommerce ping is unsigned too: over the limit as well, nothing written.
    ping = await stranger.post("/webhooks/woocommerce", content=b"webhook_id=12")
    assert ping.status_code == 429
    assert _stored(engine)[0] == LIMIT

    # The limit is per address: another sender's refusal is still noted, and a genuinely
    # signed delivery is never limited.
    other = await staff.post("/webhooks/shopify", content=body)
    assert other.status_code == 401
    await _catalogue(staff)
    signed = await post_shopify(stranger, shopify_order())
    assert signed.status_code == 200, signed.text
    assert signed.json()["outcome"] == "processed"
    rows, body_bytes, _ = _stored(engine)
    assert rows == LIMIT + 2
    assert body_bytes == len(shopify_order())  # the signed one only, kept for replay


async def test_purge_deletes_refused_deliveries_after_their_retention(
    app: FastAPI, engine: Engine
) -> None:
    state = app.state.conveyor
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=8), now - timedelta(days=1)

    def delivery(outcome: Outcome, when: datetime, signed: bool = False) -> WebhookDelivery:
        return WebhookDelivery(
            provider="shopify",
            store="shopify" if signed else None,
            signature_valid=signed,
            outcome=outcome,
            received_at=when,
            body=b"{}" if signed else b"",
        )

    with Session(engine) as session:
        # More than one purge batch of old refusals, so the purge goes round more than once.
        session.add_all(delivery(Outcome.REJECTED, old) for _ in range(1200))
        session.add(delivery(Outcome.PING, old))
        kept = [
            delivery(Outcome.REJECTED, recent),
            delivery(Outcome.UNMATCHED, old, signed=True),  # still to be reviewed and replayed
            delivery(Outcome.NEEDS_REVIEW, old, signed=True),
            delivery(Outcome.PROCESSED, old, signed=True),
        ]
        session.add_all(kept)
        session.commit()

    assert await webhook_flows.purge_deliveries(state) == 1201
    with Session(engine) as session:
        left = session.exec(select(WebhookDelivery.outcome)).all()
        assert sorted(left) == sorted(["rejected", "unmatched", "needs_review", "processed"])
        audit = session.exec(
            select(AuditEntry).where(AuditEntry.action == "webhook_delivery.purge")
        ).all()
        assert sum(a.after["deleted"] for a in audit) == 1201

    # With a retention for settled signed deliveries, the processed one goes too (the ones a
    # person still has to look at stay).
    state.settings = state.settings.model_copy(update={"webhook_retention_seconds": 86400.0})
    assert await webhook_flows.purge_deliveries(state) == 1
    with Session(engine) as session:
        left = session.exec(select(WebhookDelivery.outcome)).all()
        assert sorted(left) == sorted(["rejected", "unmatched", "needs_review"])


# ---- finding 5: replays -----------------------------------------------------------------------


def _events(engine: Engine, number: str) -> list[str]:
    """The kinds of the order's store events (received, store_update, needs_review)."""
    with Session(engine) as session:
        order = session.exec(select(SalesOrder).where(SalesOrder.number == number)).one()
        kinds = session.exec(select(OrderEvent.kind).where(OrderEvent.order_id == order.id))
        return sorted(k for k in kinds if k in ("received", "store_update", "needs_review"))


async def test_a_replayed_shopify_delivery_has_no_effect(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    await _catalogue(api)
    created = await post_shopify(api, shopify_order(), webhook_id="create-1")
    number = created.json()["order_number"]

    unchanged = json.loads(shopify_order())
    unchanged["cancelled_at"] = None  # the sample is oddly cancelled
    body = json.dumps(unchanged).encode()
    update = await post_shopify(api, body, topic="orders/updated", webhook_id="upd-1")
    assert update.json()["outcome"] == "processed", update.text
    assert update.json()["detail"] == "no change to the lines"
    events = _events(engine, number)
    assert events == ["received", "store_update"]

    # The same deliveries again, later (a fresh trigger time): answered 200, nothing done.
    for topic, webhook_id in (("orders/create", "create-1"), ("orders/updated", "upd-1")):
        again = await post_shopify(api, body, topic=topic, webhook_id=webhook_id)
        assert again.status_code == 200
        assert again.json()["outcome"] == "duplicate"
        assert "received already" in again.json()["detail"]
        assert again.json()["order_number"] == number
    assert _events(engine, number) == events
    with Session(engine) as session:
        rows = session.exec(select(WebhookDelivery)).all()
        assert sorted((r.delivery_id, r.repeats) for r in rows) == [("create-1", 1), ("upd-1", 1)]
        assert session.exec(select(func.count()).select_from(SalesOrder)).one() == 1


async def test_an_out_of_order_update_has_no_effect(
    api: httpx.AsyncClient, worker, engine: Engine
) -> None:
    await _catalogue(api)
    created_at = datetime(2022, 1, 1, 0, 0, tzinfo=UTC)  # the sample's 2021-12-31T19:00-05:00
    order = json.loads(shopify_order())
    order["email"] = order["contact_email"] = order["customer"]["email"] = None
    response = await post_shopify(api, json.dumps(order).encode())
    number = response.json()["order_number"]
    await wait_for_open_task(api, number, "stock_check")  # held for the order desk: amendable

    def update(qty: int, minutes: int) -> bytes:
        changed = json.loads(shopify_order())
        changed["cancelled_at"] = None  # the sample is oddly cancelled
        changed["line_items"][0]["quantity"] = qty
        changed["updated_at"] = (created_at + timedelta(minutes=minutes)).isoformat()
        return json.dumps(changed).encode()

    newer = await post_shopify(api, update(2, 20), topic="orders/updated")
    assert newer.json()["detail"] == "lines amended", newer.text
    # Sent earlier, arriving later (or replayed under a new webhook id): it would roll back.
    older = await post_shopify(api, update(3, 10), topic="orders/updated")
    assert older.status_code == 200
    assert older.json()["outcome"] == "ignored"
    assert "older than the last one applied" in older.json()["detail"]
    lines = (await api.get(f"/api/orders/{number}")).json()["lines"]
    assert sorted((ln["sku"], ln["qty"]) for ln in lines) == [
        ("SKU2006-001", 2),
        ("SKU2006-020", 1),
        ("SKU2006-035", 1),
    ]
    with Session(engine) as session:
        row = session.exec(select(StoreOrder)).one()
        assert row.store_updated_at == created_at + timedelta(minutes=20)

    # An older cancellation is ignored as well; the order runs on.
    cancel = json.loads(update(3, 15))
    cancel["cancelled_at"] = cancel["updated_at"]
    late_cancel = await post_shopify(api, json.dumps(cancel).encode(), topic="orders/cancelled")
    assert late_cancel.json()["outcome"] == "ignored", late_cancel.text
    assert (await api.get(f"/api/orders/{number}")).json()["status"] != "cancelled"


async def test_a_delivery_triggered_too_long_ago_is_refused(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    await _catalogue(api)
    long_ago = datetime.now(UTC) - timedelta(days=3)
    shopify = await post_shopify(api, shopify_order(), triggered_at=long_ago)
    assert shopify.status_code == 401
    assert shopify.json()["outcome"] == "rejected"
    assert "refused as a replay" in shopify.json()["detail"]
    woo = await post_woocommerce(api, woocommerce_order(modified=long_ago))
    assert woo.status_code == 401
    assert "refused as a replay" in woo.json()["detail"]
    assert (await api.get("/api/orders")).json()["count"] == 0
    with Session(engine) as session:
        rows = session.exec(select(WebhookDelivery)).all()
        assert [(r.outcome, r.signature_valid, r.body) for r in rows] == [
            ("rejected", True, b""),
            ("rejected", True, b""),
        ]
    # Not replayable: the body was not kept.
    replay = await api.post(f"/api/webhook-deliveries/{shopify.json()['delivery']}/replay")
    assert replay.status_code == 409

    # Within the window it goes through.
    fresh = await post_shopify(api, shopify_order(), triggered_at=datetime.now(UTC))
    assert fresh.json()["outcome"] == "processed", fresh.text


# ---- finding 6: whose customer ------------------------------------------------------------------


async def test_a_store_order_does_not_land_on_a_staff_created_customer(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    await _catalogue(api)
    staff_customer = await create_customer(
        api, name="Jon's Company", email="jon@example.com", credit_limit="50000.00"
    )
    response = await post_shopify(api, shopify_order())
    assert response.status_code == 200, response.text
    assert "needs review" in response.json()["detail"]
    number = response.json()["order_number"]
    order = (await api.get(f"/api/orders/{number}")).json()
    assert order["customer_id"] != staff_customer["id"]
    assert order["needs_review"] is True
    assert any("belongs to customer" in e["message"] for e in order["events"])
    customer = (await api.get(f"/api/customers/{order['customer_id']}")).json()
    assert customer["email"].endswith("@shopify.unverified.invalid")  # mail goes nowhere
    assert customer["created_by_store"] == "shopify"
    assert customer["credit_limit"] == "0.00"

    # The store's next order with that e-mail joins the store's customer, still for review.
    second = await post_shopify(api, shopify_order("820982911946154599"))
    again = (await api.get(f"/api/orders/{second.json()['order_number']}")).json()
    assert again["customer_id"] == order["customer_id"]
    assert again["needs_review"] is True
    with Session(engine) as session:
        assert not session.exec(
            select(SalesOrder).where(SalesOrder.customer_id == staff_customer["id"])
        ).all()

    # Once the address is verified, the customer's store orders are theirs.
    with Session(engine) as session:
        row = session.get(Customer, staff_customer["id"])
        assert row is not None
        row.email_verified = True
        session.add(row)
        session.commit()
    third = await post_shopify(api, shopify_order("820982911946154600"))
    verified = (await api.get(f"/api/orders/{third.json()['order_number']}")).json()
    assert verified["customer_id"] == staff_customer["id"]
    assert verified["needs_review"] is False


async def test_a_customer_the_store_created_gets_its_later_orders(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    await _catalogue(api)
    first = (await post_shopify(api, shopify_order())).json()
    second = (await post_shopify(api, shopify_order("820982911946154601"))).json()
    with Session(engine) as session:
        orders = session.exec(
            select(SalesOrder).where(
                col(SalesOrder.number).in_([first["order_number"], second["order_number"]])
            )
        ).all()
        assert len({o.customer_id for o in orders}) == 1
        assert not any(o.needs_review for o in orders)
        customer = session.get(Customer, orders[0].customer_id)
        assert customer is not None
        assert (customer.email, customer.created_by_store) == ("jon@example.com", "shopify")
