"""The outbound dispatcher: one per task queue, short histories that replay, bounded retries."""

import asyncio
import os
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory
from temporalio.worker import Replayer

from conveyor.audit.service import Actor
from conveyor.core.backoff import Backoff
from conveyor.core.db import session_scope
from conveyor.core.settings import Settings
from conveyor.core.temporal import data_converter
from conveyor.outbound import service as outbound_service
from conveyor.outbound.models import OutboundDelivery, SubscriptionCreate
from tests.outbound.conftest import Subscriber
from worker import build_worker, ensure_outbound_dispatcher
from workflows.outbound_dispatcher import (
    OutboundDispatcherInput,
    OutboundDispatcherWorkflow,
    outbound_dispatcher_id,
)

HISTORIES = Path(__file__).resolve().parent / "histories"
RECORD_AS = "v1"  # the dispatcher version the live run records


def _subscribe(engine: Engine, url: str) -> int:
    with session_scope(engine) as session:
        made = outbound_service.create(
            session=session,
            subscription_in=SubscriptionCreate.model_validate(
                {"url": url, "events": ["order.created"]}
            ),
            actor=Actor.system(),
        )
        return made.id or 0


def _emit(engine: Engine, n: int) -> None:
    with session_scope(engine) as session:
        for i in range(n):
            outbound_service.emit(session, "order.created", {"number": f"T-{i}"})


async def test_the_dispatcher_continues_as_new_and_its_histories_replay(
    engine: Engine, settings: Settings, temporal_client: Client, subscriber: Subscriber
) -> None:
    subscriber.start()
    _subscribe(engine, subscriber.url())
    dispatcher = await temporal_client.start_workflow(
        OutboundDispatcherWorkflow.run,
        OutboundDispatcherInput(drain_seconds=1),
        id=outbound_dispatcher_id(settings.task_queue),
        task_queue=settings.task_queue,
    )
    async with build_worker(temporal_client, engine, settings):
        _emit(engine, 2)
        latest = temporal_client.get_workflow_handle(dispatcher.id)
        runs = {dispatcher.result_run_id}
        for _ in range(150):
            runs.add((await latest.describe()).run_id)
            if len(runs) >= 3:
                break
            await asyncio.sleep(0.1)
        assert len(runs) >= 3, runs
        # A second worker on the queue finds it running and starts no other.
        described = await latest.describe()
        await ensure_outbound_dispatcher(temporal_client, settings)
        assert (await latest.describe()).run_id == described.run_id
        assert described.status == WorkflowExecutionStatus.RUNNING
        for _ in range(100):
            if len(subscriber.requests()) >= 2:
                break
            await asyncio.sleep(0.1)
    assert sorted(r.event["data"]["number"] for r in subscriber.requests()) == ["T-0", "T-1"]
    first = temporal_client.get_workflow_handle(dispatcher.id, run_id=dispatcher.result_run_id)
    history = await first.fetch_history()
    assert len(history.events) < 20  # one drain, then continue-as-new
    replayer = Replayer(workflows=[OutboundDispatcherWorkflow], data_converter=data_converter)
    await replayer.replay_workflow(history)
    if os.environ.get("CONVEYOR_RECORD_HISTORIES") == "1":  # as tests/workflows/test_replay.py
        HISTORIES.mkdir(exist_ok=True)
        (HISTORIES / f"{RECORD_AS}_drain.json").write_text(history.to_json())


async def test_recorded_dispatcher_histories_replay() -> None:
    files = sorted(HISTORIES.glob("*.json"))
    assert files
    replayer = Replayer(workflows=[OutboundDispatcherWorkflow], data_converter=data_converter)
    for path in files:
        await replayer.replay_workflow(WorkflowHistory.from_json(path.stem, path.read_text()))


def test_a_delivery_gives_up_when_its_window_closes_and_a_replay_reopens_it(
    engine: Engine,
) -> None:
    subscription = _subscribe(engine, "http://127.0.0.1:9/hook")
    _emit(engine, 1)
    backoff = Backoff(initial_seconds=10, maximum_seconds=60)
    with session_scope(engine) as session:
        delivery = session.get(OutboundDelivery, 1)
        assert delivery is not None and delivery.subscription_id == subscription
        outbound_service.record_failure(
            session=session, delivery_id=1, status_code=500, error="HTTP 500",
            backoff=backoff, retry_window=timedelta(hours=72),
        )  # fmt: skip
    with session_scope(engine) as session:
        delivery = session.get(OutboundDelivery, 1)
        assert delivery and delivery.status == "pending" and delivery.attempts == 1
        assert delivery.next_attempt_at and delivery.next_attempt_at > delivery.retry_from
        outbound_service.record_failure(
            session=session, delivery_id=1, status_code=None, error="ConnectTimeout",
            backoff=backoff, retry_window=timedelta(0),
        )  # fmt: skip
    with session_scope(engine) as session:
        delivery = session.get(OutboundDelivery, 1)
        assert delivery and delivery.status == "failed" and delivery.next_attempt_at is None
        assert delivery.attempts == 2 and delivery.last_error == "ConnectTimeout"
        outbound_service.replay(session=session, delivery=delivery, actor=Actor.system())
    with session_scope(engine) as session:
        delivery = session.get(OutboundDelivery, 1)
        assert delivery and delivery.status == "pending" and delivery.replays == 1
        assert delivery.next_attempt_at is None


async def test_an_effect_rolled_back_announces_nothing(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    _subscribe(engine, "http://127.0.0.1:9/hook")
    try:
        with session_scope(engine) as session:
            outbound_service.emit(session, "order.created", {"number": "X"}, key="k:1")
            raise RuntimeError("the effect failed")
    except RuntimeError:
        pass
    with session_scope(engine) as session:
        outbound_service.emit(session, "order.created", {"number": "Y"}, key="k:2")
        outbound_service.emit(session, "order.created", {"number": "Y"}, key="k:2")  # a retry
    log = (await api.get("/api/webhook-subscriptions/1/deliveries")).json()
    assert log["count"] == 1


async def test_a_slow_subscriber_times_out_and_gets_it_later(
    engine: Engine, worker, subscriber: Subscriber
) -> None:
    subscriber.delay = 5.0  # past the 3 s the test settings allow one POST
    subscriber.start()
    subscription = _subscribe(engine, subscriber.url())
    _emit(engine, 1)

    def attempted() -> OutboundDelivery | None:
        with session_scope(engine) as session:
            row = session.get(OutboundDelivery, 1)
            return row if row and row.attempts >= 1 else None

    for _ in range(100):
        if attempted():
            break
        await asyncio.sleep(0.1)
    timed_out = attempted()
    assert timed_out and timed_out.status == "pending" and timed_out.last_status is None
    assert timed_out.subscription_id == subscription
    assert "Timeout" in (timed_out.last_error or ""), timed_out.last_error
    subscriber.delay = 0.0
    for _ in range(100):
        with session_scope(engine) as session:
            row = session.get(OutboundDelivery, 1)
            if row and row.status == "delivered":
                break
        await asyncio.sleep(0.1)
    assert row and row.status == "delivered" and row.last_status == 200
