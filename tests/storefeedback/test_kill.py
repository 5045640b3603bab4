"""A worker SIGKILLed while the store takes a fulfillment: restarted, it posts none twice.

The worker runs as a real `python -m worker` process (it runs the order and the outbound
dispatcher that tells the store). The stand-in refuses the first two fulfillments, records the
third and holds its answer; the worker is killed right then, so its claim on the row is never
committed as sent. Once the claim's lease has run out, a new worker tries the row again: it reads
the order's fulfillment orders first (Shopify documents no idempotency key for
`POST /fulfillments.json`; a fulfilled fulfillment order has no `fulfillable_quantity` left), finds
nothing left to fulfil and marks the row sent without posting again.
"""

import asyncio
import os
import signal
from datetime import timedelta

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import select

from conveyor.core.db import session_scope
from conveyor.core.models import utcnow
from conveyor.core.settings import Settings
from conveyor.storefeedback.models import StoreFeedback
from tests.shipping.test_delivery import _pack
from tests.storefeedback.conftest import SHOPIFY_BASE, StandIn
from tests.utils.processes import start_worker, stop
from tests.utils.storefeedback import feedback_rows, place_shopify_order, until, until_status


def expire_claims(engine: Engine) -> None:
    """What the lease's end does to a dead worker's claims, without waiting its 150 s out."""
    with session_scope(engine) as session:
        for row in session.exec(select(StoreFeedback)).all():
            if row.claimed_until is not None:
                row.claimed_until = utcnow() - timedelta(seconds=1)
                session.add(row)


async def test_worker_killed_while_the_store_takes_the_fulfillment_sends_no_duplicate(
    api: httpx.AsyncClient, engine: Engine, settings: Settings, stand_in: StandIn
) -> None:
    number = await place_shopify_order(api)
    stand_in.fail_next, stand_in.hold = 2, True

    first = start_worker(settings)
    try:
        await _pack(api, number, 1, {"carrier": "dhl", "tracking": "JD0146000012345"})
        await until(stand_in.holding.is_set, f"the store receiving: {stand_in.requests}", 60)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(15)
    finally:
        stop(first)
    stand_in.release.set()  # its answer goes to a dead process

    (row,) = feedback_rows(engine)
    assert (row.status, row.attempts) == ("pending", 2)  # the store's 201 was never recorded
    assert row.claimed_until is not None
    assert len(stand_in.fulfillments) == 1
    expire_claims(engine)

    second = start_worker(settings)
    try:
        await until_status(engine, "sent", "sent by the new worker", seconds=90)
    finally:
        stop(second)
    posts = [w for w in stand_in.writes() if w["path"] == f"{SHOPIFY_BASE}/fulfillments.json"]
    assert len(posts) == 3  # two refused, one taken: none after the restart
    (fulfillment,) = stand_in.fulfillments
    assert fulfillment["tracking_info"]["number"] == "JD0146000012345"
    reads = [r["path"] for r in stand_in.requests[-2:]]
    assert reads[-1].endswith("/fulfillment_orders.json")  # it looked before it would post
    (row,) = feedback_rows(engine)
    assert row.attempts == 3
    await asyncio.sleep(1.0)
    assert len(stand_in.fulfillments) == 1
