"""A subscriber down for a while, then back, while the worker sending to it is SIGKILLed.

The outbound dispatcher runs in a real `python -m worker` process. The subscriber refuses
connections at first (each delivery is tried and backed off), then comes back and takes the
events but holds its answers; the worker is killed right then, so none of those 2xx is recorded.
Once the dead worker's lease has run out a new worker sends them again: at least once, each copy
with the same `Conveyor-Event-Id` and body and a valid signature, so a receiver that deduplicates
on the event id (as the README tells it to) acts on every event exactly once.
"""

import asyncio
import os
import signal
import threading
from collections import defaultdict
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import select

from conveyor.audit.service import Actor
from conveyor.core.db import session_scope
from conveyor.core.models import utcnow
from conveyor.core.settings import Settings
from conveyor.outbound import service as outbound_service
from conveyor.outbound.models import OutboundDelivery, OutboundEvent, SubscriptionCreate
from tests.outbound.conftest import Received, Subscriber
from tests.outbound.test_outbound_webhooks import documented_verify
from tests.utils.processes import start_worker, stop

EVENTS = 5


def _subscribe(engine: Engine, url: str) -> str:
    """A subscription to order.created; its signing secret."""
    with session_scope(engine) as session:
        made = outbound_service.create(
            session=session,
            subscription_in=SubscriptionCreate.model_validate(
                {"url": url, "events": ["order.created"]}
            ),
            actor=Actor.system(),
        )
        return made.secret


def _deliveries(engine: Engine) -> list[OutboundDelivery]:
    with session_scope(engine) as session:
        return list(session.exec(select(OutboundDelivery)).all())


def _expire_claims(engine: Engine) -> None:
    """What the lease's end does to a dead worker's claims, without waiting its 150 s out."""
    with session_scope(engine) as session:
        for row in session.exec(select(OutboundDelivery)).all():
            if row.claimed_until is not None:
                row.claimed_until = utcnow() - timedelta(seconds=1)
                session.add(row)


async def _until(check, what: str, seconds: float = 60.0) -> None:
    for _ in range(int(seconds / 0.1)):
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(what)


async def test_subscriber_back_after_a_kill_gets_every_event_once_by_its_id(
    engine: Engine, settings: Settings, subscriber: Subscriber
) -> None:
    secret = _subscribe(engine, subscriber.url())
    with session_scope(engine) as session:
        for i in range(EVENTS):
            outbound_service.emit(session, "order.created", {"number": f"K-{i}"})
        event_ids = set(session.exec(select(OutboundEvent.event_id)).all())
    assert len(event_ids) == EVENTS

    first = start_worker(settings)
    try:
        # Down: every delivery is tried, refused (no connection) and waits for its backoff.
        await _until(
            lambda: all(d.attempts >= 1 and d.last_error for d in _deliveries(engine)),
            "each delivery tried while the subscriber is down",
        )
        subscriber.hold = threading.Event()
        subscriber.start()
        await _until(
            lambda: len({r.headers["conveyor-event-id"] for r in subscriber.requests()}) == EVENTS,
            f"every event reaching the subscriber: {len(subscriber.requests())}",
        )
        os.kill(first.pid, signal.SIGKILL)
        first.wait(15)
    finally:
        stop(first)
    subscriber.hold.set()  # its answers go to a dead process
    assert all(d.status == "pending" for d in _deliveries(engine))  # no 2xx was recorded
    taken_before_kill = len(subscriber.requests())
    _expire_claims(engine)

    second = start_worker(settings)
    try:
        await _until(
            lambda: all(d.status == "delivered" for d in _deliveries(engine)),
            "delivered by the new worker",
            90,
        )
    finally:
        stop(second)

    received = subscriber.requests()
    assert len(received) > taken_before_kill  # sent again: at least once
    verify = documented_verify()  # the receiver's check, as the README shows it
    by_id: dict[str, list[Received]] = defaultdict(list)
    for request in received:
        assert verify(secret, request.body, request.headers["conveyor-signature"])
        by_id[request.headers["conveyor-event-id"]].append(request)
    assert set(by_id) == event_ids
    for copies in by_id.values():
        assert len({c.body for c in copies}) == 1  # a copy is the same event, byte for byte
        assert copies[0].event["id"] == copies[0].headers["conveyor-event-id"]
    # A receiver deduplicating on the id acts on each event once: the five numbers, once each.
    acted = sorted(copies[0].event["data"]["number"] for copies in by_id.values())
    assert acted == [f"K-{i}" for i in range(EVENTS)]
    assert any(len(copies) > 1 for copies in by_id.values())  # the kill did duplicate some
