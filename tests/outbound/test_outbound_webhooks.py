"""Outbound webhooks end to end: a subscriber down for a while gets every event, signed."""

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from conveyor.core.db import session_scope
from conveyor.outbound import signing
from conveyor.outbound.models import OutboundDelivery, OutboundEvent
from tests.conftest import RULES
from tests.outbound.conftest import Subscriber
from tests.utils.api import (
    auth,
    create_customer,
    create_employee,
    create_product,
    place_order,
    wait_for_open_task,
    wait_for_order,
)

ALL_EVENTS = [
    "order.created",
    "order.shipped",
    "order.delivered",
    "invoice.issued",
    "payment.received",
    "order.cancelled",
]


@pytest.fixture
def rules_dir() -> Path:
    """Phone orders wait at a quote (to be cancelled); the rest run straight through."""
    return RULES / "audit_walk"


def documented_verify() -> Callable[..., bool]:
    """The receiving side's example from the docs, run as written."""
    namespace: dict = {}
    exec(signing.verify_example_source(), namespace)
    return namespace["verify"]


def _deliveries(engine: Engine, subscription_id: int) -> list[tuple[OutboundDelivery, str]]:
    with session_scope(engine) as session:
        rows = session.exec(
            select(OutboundDelivery, OutboundEvent)
            .join(OutboundEvent, col(OutboundEvent.id) == col(OutboundDelivery.event_id))
            .where(OutboundDelivery.subscription_id == subscription_id)
            .order_by(col(OutboundDelivery.id))
        ).all()
        return [(d, e.event_id) for d, e in rows]


async def _until(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.1)


async def test_a_subscriber_down_for_a_while_gets_every_event_signed(
    api: httpx.AsyncClient, worker, engine: Engine, subscriber: Subscriber
) -> None:
    made = await api.post(
        "/api/webhook-subscriptions",
        json={"url": subscriber.url(), "events": ALL_EVENTS, "description": "ERP"},
    )
    assert made.status_code == 201, made.text
    subscription = made.json()
    secret = subscription["secret"]
    assert secret.startswith("whsec_")
    cancels_only = await api.post(
        "/api/webhook-subscriptions",
        json={"url": subscriber.url("/cancels"), "events": ["order.cancelled"]},
    )
    assert cancels_only.status_code == 201, cancels_only.text
    listed = (await api.get("/api/webhook-subscriptions")).json()
    assert listed["count"] == 2 and all("secret" not in s for s in listed["data"])
    shown = (await api.get(f"/api/webhook-subscriptions/{subscription['id']}")).json()
    assert "secret" not in shown and shown["events"] == ALL_EVENTS

    # The subscriber's port is closed: orders go ahead, their events wait.
    product = await create_product(api, on_hand=10, price="12.50")
    customer = await create_customer(api)
    paid = await place_order(api, customer["id"], [(product["sku"], 2)], prepaid=True)
    quoted = await place_order(api, customer["id"], [(product["sku"], 1)], channel="phone")
    await wait_for_order(api, paid["number"], lambda o: o["status"] == "completed")
    await wait_for_open_task(api, quoted["number"], "quote")
    cancelled = await api.post(f"/api/orders/{quoted['number']}/cancel", params={"reason": "no"})
    assert cancelled.status_code == 200, cancelled.text
    await wait_for_order(api, quoted["number"], lambda o: o["status"] == "cancelled")
    sub_id = subscription["id"]

    def all_tried(status: int | None) -> bool:
        rows = _deliveries(engine, sub_id)
        return len(rows) >= 5 and all(
            d.attempts >= 1 and d.last_status == status and d.status == "pending" for d, _ in rows
        )

    await _until(lambda: all_tried(None), "every delivery tried against the closed port")
    log = (await api.get(f"/api/webhook-subscriptions/{sub_id}/deliveries")).json()
    assert all(d["last_error"] and d["next_attempt_at"] for d in log["data"])

    # Up, but answering 503: still nothing counts as delivered.
    subscriber.status = 503
    subscriber.start()
    await _until(lambda: all_tried(503), "every delivery refused with 503")

    # Back: everything arrives.
    subscriber.status = 200
    await _until(
        lambda: all(d.status == "delivered" for d, _ in _deliveries(engine, sub_id)),
        "every delivery delivered",
    )
    rows = _deliveries(engine, sub_id)
    with session_scope(engine) as session:
        events = session.exec(select(OutboundEvent).order_by(col(OutboundEvent.id))).all()
        emitted = {e.event_id: e.type for e in events}
        orders = {
            e.event_id: e.payload.get("number") or e.payload.get("order_number") for e in events
        }
    assert {event_id for _, event_id in rows} == set(emitted)  # every event, for this one
    types = set(emitted.values())
    assert {"order.created", "invoice.issued", "payment.received", "order.cancelled"} <= types
    assert {orders[i] for i, t in emitted.items() if t == "order.created"} == {
        paid["number"],
        quoted["number"],
    }

    verify = documented_verify()
    taken = [r for r in subscriber.requests() if r.path == "/hook"]
    good = {}
    for request in taken:
        assert verify(secret, request.body, request.headers["conveyor-signature"])
        assert not verify("whsec_wrong", request.body, request.headers["conveyor-signature"])
        assert not verify(secret, request.body + b" ", request.headers["conveyor-signature"])
        body = request.event
        assert request.headers["conveyor-event-id"] == body["id"]
        assert request.headers["conveyor-event-type"] == body["type"] == emitted[body["id"]]
        assert request.headers["content-type"] == "application/json"
        good[body["id"]] = body
    assert set(good) == set(emitted)  # no event lost
    cancel_event = next(b for b in good.values() if b["type"] == "order.cancelled")
    assert cancel_event["data"]["number"] == quoted["number"]
    assert cancel_event["data"]["reason"] == "no"
    payment = next(b for b in good.values() if b["type"] == "payment.received")
    assert payment["data"]["order_number"] == paid["number"]
    assert payment["data"]["amount"] == paid["total"]

    # The other subscription heard of the cancellation only.
    others = [r.event["type"] for r in subscriber.requests() if r.path == "/cancels"]
    assert others and set(others) == {"order.cancelled"}

    # A replay from the log sends the same event again.
    log = (await api.get(f"/api/webhook-subscriptions/{sub_id}/deliveries")).json()
    assert log["count"] == len(emitted)
    assert all(d["status"] == "delivered" and d["last_status"] == 200 for d in log["data"])
    chosen = next(d for d in log["data"] if d["event_type"] == "order.cancelled")
    before = len(taken)
    replayed = await api.post(
        f"/api/webhook-subscriptions/{sub_id}/deliveries/{chosen['id']}/replay"
    )
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["replays"] == 1
    await _until(
        lambda: len([r for r in subscriber.requests() if r.path == "/hook"]) > before,
        "the replay arrived",
    )
    again = [r for r in subscriber.requests() if r.path == "/hook"][before:]
    assert [r.headers["conveyor-event-id"] for r in again] == [chosen["event_id"]]
    assert verify(secret, again[0].body, again[0].headers["conveyor-signature"])
    await _until(
        lambda: all(d.status == "delivered" for d, _ in _deliveries(engine, sub_id)),
        "the replay recorded as delivered",
    )

    # A rotated secret signs what follows; the old one no longer verifies.
    rotated = (await api.post(f"/api/webhook-subscriptions/{sub_id}/rotate-secret")).json()
    assert rotated["secret"] != secret
    before = len(subscriber.requests())
    await api.post(f"/api/webhook-subscriptions/{sub_id}/deliveries/{chosen['id']}/replay")
    await _until(lambda: len(subscriber.requests()) > before, "the second replay arrived")
    last = subscriber.requests()[-1]
    assert verify(rotated["secret"], last.body, last.headers["conveyor-signature"])
    assert not verify(secret, last.body, last.headers["conveyor-signature"])

    # Deactivated: new events are not delivered to it.
    off = await api.delete(f"/api/webhook-subscriptions/{sub_id}")
    assert off.status_code == 200 and off.json()["active"] is False
    before = len(_deliveries(engine, sub_id))
    await place_order(api, customer["id"], [(product["sku"], 1)], channel="phone")
    assert len(_deliveries(engine, sub_id)) == before


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/hook",
        "not a url",
        "javascript:alert(1)",
        "https://user:pass@example.com/hook",
        "https://example.com/" + "a" * 2000,
    ],
)
async def test_a_bad_url_is_refused(api: httpx.AsyncClient, url: str) -> None:
    made = await api.post(
        "/api/webhook-subscriptions", json={"url": url, "events": ["order.created"]}
    )
    assert made.status_code == 422, made.text
    assert (await api.get("/api/webhook-subscriptions")).json()["count"] == 0


async def test_events_are_checked(api: httpx.AsyncClient) -> None:
    for events in ([], ["order.exploded"]):
        made = await api.post(
            "/api/webhook-subscriptions", json={"url": "https://example.com/h", "events": events}
        )
        assert made.status_code == 422, made.text
    made = await api.post(
        "/api/webhook-subscriptions",
        json={"url": "https://example.com/h", "events": ["order.created", "order.created"]},
    )
    assert made.status_code == 201 and made.json()["events"] == ["order.created"]
    patched = await api.patch(
        f"/api/webhook-subscriptions/{made.json()['id']}", json={"url": "gopher://x"}
    )
    assert patched.status_code == 422


async def test_only_admins_manage_subscriptions(api: httpx.AsyncClient) -> None:
    made = await api.post(
        "/api/webhook-subscriptions",
        json={"url": "https://example.com/h", "events": ["order.created"]},
    )
    sub_id = made.json()["id"]
    supervisor = await create_employee(api, ["supervisor", "order_desk"], clearance=4)
    headers = auth(supervisor)
    attempts = [
        api.post(
            "/api/webhook-subscriptions",
            json={"url": "https://example.com/h", "events": ["order.created"]},
            headers=headers,
        ),
        api.get("/api/webhook-subscriptions", headers=headers),
        api.get(f"/api/webhook-subscriptions/{sub_id}/deliveries", headers=headers),
        api.patch(f"/api/webhook-subscriptions/{sub_id}", json={"active": False}, headers=headers),
        api.delete(f"/api/webhook-subscriptions/{sub_id}", headers=headers),
        api.post(f"/api/webhook-subscriptions/{sub_id}/rotate-secret", headers=headers),
    ]
    for attempt in attempts:
        answer = await attempt
        assert answer.status_code == 403, answer.text
        assert "admins only" in answer.json()["detail"]
    assert (await api.get(f"/api/webhook-subscriptions/{sub_id}")).json()["active"] is True
