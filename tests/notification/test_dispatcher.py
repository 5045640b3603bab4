"""The outbox dispatcher: queued mail goes out once, waits out SMTP outages and killed workers."""

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.utils import parsedate_to_datetime

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import ActivityEnvironment

from activities.notification_activities import NotificationActivities
from activities.outbox_activities import DrainOutboxInput, OutboxActivities
from conveyor.audit.service import Actor
from conveyor.core import temporal_server
from conveyor.core.backoff import Backoff
from conveyor.core.db import make_engine, session_scope
from conveyor.core.models import utcnow
from conveyor.core.settings import Settings
from conveyor.notification import service as outbox_service
from conveyor.notification.models import OutboxMessage
from conveyor.notification.render import RenderedMail
from conveyor.order import service as order_service
from tests.conftest import Mailbox
from tests.utils.api import create_customer, create_product, place_order
from tests.utils.processes import ROOT, conveyor_env, stop
from worker import build_worker, ensure_outbox_dispatcher
from workflows.outbox_dispatcher import (
    OutboxDispatcherInput,
    OutboxDispatcherWorkflow,
    outbox_dispatcher_id,
)
from workflows.types import NotifyInput


@pytest.fixture
def mail_settings(settings: Settings) -> Settings:
    """The test's settings on a task queue of their own: the worker there runs only the
    dispatcher (orders placed through the API wait on the test's queue, where nobody polls)."""
    return settings.model_copy(update={"task_queue": f"{settings.task_queue}-mail"})


@pytest.fixture
def closed_port() -> int:
    """A port where no SMTP server listens (until a test starts one there)."""
    return temporal_server.free_port()


@pytest.fixture
def relay(closed_port: int) -> Iterator[Callable[[], Mailbox]]:
    """Starts a real SMTP server on `closed_port` when called; stopped at the end."""
    controllers: list[Controller] = []

    def start() -> Mailbox:
        mailbox = Mailbox()
        controller = Controller(mailbox, hostname="127.0.0.1", port=closed_port)
        controller.start()
        controllers.append(controller)
        return mailbox

    yield start
    for controller in controllers:
        controller.stop()


async def _order_number(api: httpx.AsyncClient) -> tuple[str, str]:
    product = await create_product(api, on_hand=5, price="4.00")
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)])
    return order["number"], customer["email"]


def _queue(engine: Engine, settings: Settings, number: str, count: int, **kw) -> list[int]:
    """`count` confirmations of order `number`, stored in one transaction as an activity would."""
    with session_scope(engine) as session:
        order = order_service.get_by_number(session=session, number=number)
        assert order is not None
        rows = [
            outbox_service.queue(
                session=session,
                key=f"{number}:test:{n}",
                kind="order_confirmation",
                order=order,
                app_url=settings.public_url,
                **kw,
            )
            for n in range(count)
        ]
        return [r.id or 0 for r in rows]


def _rows(engine: Engine, ids: list[int]) -> list[OutboxMessage]:
    with Session(engine) as session:
        query = select(OutboxMessage).where(col(OutboxMessage.id).in_(ids))
        return list(session.exec(query.order_by(col(OutboxMessage.id))).all())


def _message_ids(mailbox: Mailbox) -> list[str]:
    return [str(m["Message-ID"]) for m in mailbox.messages]


def _expected(ids: list[int]) -> list[str]:
    return [f"<outbox-{i}@conveyor>" for i in ids]


async def _wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    for _ in range(int(timeout * 10)):
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached in time")


async def test_mail_queued_with_its_effect_goes_out_once(
    api: httpx.AsyncClient,
    engine: Engine,
    mail_settings: Settings,
    temporal_client: Client,
    mailbox: Mailbox,
) -> None:
    number, email = await _order_number(api)
    ids = _queue(engine, mail_settings, number, 3)
    assert _queue(engine, mail_settings, number, 3) == ids  # a retried activity adds nothing
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        order = order_service.get_by_number(session=session, number=number)
        assert order is not None
        outbox_service.queue(
            session=session,
            key=f"{number}:rolled-back",
            kind="order_confirmation",
            order=order,
            app_url=mail_settings.public_url,
        )
        raise RuntimeError("the effect failed: its mail must not exist either")

    async with build_worker(temporal_client, engine, mail_settings):
        await _wait_for(lambda: len(mailbox.messages) >= 3)
        await asyncio.sleep(1.5)  # a few more polls: nothing goes out again
        dispatcher = temporal_client.get_workflow_handle(
            outbox_dispatcher_id(mail_settings.task_queue)
        )
        described = await dispatcher.describe()
        assert described.status == WorkflowExecutionStatus.RUNNING
        # A second worker on the queue finds the dispatcher running and starts no other.
        await ensure_outbox_dispatcher(temporal_client, mail_settings)
        assert (await dispatcher.describe()).run_id == described.run_id

    assert sorted(_message_ids(mailbox)) == sorted(_expected(ids))
    assert all(email in str(m["To"]) for m in mailbox.messages)
    assert mailbox.messages[0]["Subject"] == f"Order {number} confirmed"
    rows = _rows(engine, ids)
    sent = {str(m["Message-ID"]): m for m in mailbox.messages}
    for row in rows:  # dated when the effect stored it, to the second (RFC 5322)
        dated = parsedate_to_datetime(str(sent[f"<outbox-{row.id}@conveyor>"]["Date"]))
        assert dated == row.created_at.replace(microsecond=0)
    assert [(r.status, r.attempts, r.next_attempt_at, r.claimed_until) for r in rows] == [
        ("sent", 1, None, None)
    ] * 3
    assert all(r.sent_at is not None for r in rows)
    with Session(engine) as session:
        assert outbox_service.get_by_key(session=session, key=f"{number}:rolled-back") is None


async def test_the_dispatcher_continues_as_new_with_a_short_history(
    api: httpx.AsyncClient,
    engine: Engine,
    mail_settings: Settings,
    temporal_client: Client,
    mailbox: Mailbox,
) -> None:
    number, _ = await _order_number(api)
    # Started before the worker with 1 s drains, so the worker finds it and starts no other.
    dispatcher = await temporal_client.start_workflow(
        OutboxDispatcherWorkflow.run,
        OutboxDispatcherInput(drain_seconds=1),
        id=outbox_dispatcher_id(mail_settings.task_queue),
        task_queue=mail_settings.task_queue,
    )
    async with build_worker(temporal_client, engine, mail_settings):
        first = _queue(engine, mail_settings, number, 1)
        await _wait_for(lambda: len(mailbox.messages) == 1)
        latest = temporal_client.get_workflow_handle(dispatcher.id)
        runs = {dispatcher.result_run_id}
        for _ in range(150):  # every 1 s drain ends its run: the next one continues as new
            runs.add((await latest.describe()).run_id)
            if len(runs) >= 3:
                break
            await asyncio.sleep(0.1)
        assert len(runs) >= 3, runs
        later = [i for i in _queue(engine, mail_settings, number, 3) if i not in first]
        await _wait_for(lambda: len(mailbox.messages) == 3)
        assert (await latest.describe()).status == WorkflowExecutionStatus.RUNNING
        history = await latest.fetch_history()
        assert len(history.events) <= 15  # one drain per run
        await latest.terminate()  # 1 s runs would go on long after the test
    assert sorted(_message_ids(mailbox)) == sorted(_expected(first + later))


async def test_smtp_down_mail_waits_then_goes_out_once(
    api: httpx.AsyncClient,
    engine: Engine,
    mail_settings: Settings,
    temporal_client: Client,
    closed_port: int,
    relay: Callable[[], Mailbox],
) -> None:
    number, _ = await _order_number(api)
    ids = _queue(engine, mail_settings, number, 2)
    down = mail_settings.model_copy(update={"smtp_port": closed_port})
    async with build_worker(temporal_client, engine, down):
        # Refused, then tried again after its backoff: attempts and the error are recorded.
        await _wait_for(lambda: all(r.attempts >= 2 for r in _rows(engine, ids)))
        for row in _rows(engine, ids):
            assert row.status == "pending"
            assert row.last_error
            assert row.next_attempt_at is not None and row.next_attempt_at > row.created_at

        mailbox = relay()
        await _wait_for(lambda: len(mailbox.messages) >= 2)
        await asyncio.sleep(1.5)

    assert sorted(_message_ids(mailbox)) == sorted(_expected(ids))
    rows = _rows(engine, ids)
    assert {r.status for r in rows} == {"sent"}
    assert all(r.attempts >= 3 and r.last_error is None for r in rows)  # 2+ failures, 1 send


class SlowMailbox(Mailbox):
    """A relay that takes a moment per message, so two dispatchers' batches overlap."""

    async def handle_DATA(self, server, session, envelope) -> str:
        await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


async def test_two_dispatchers_never_send_one_row_twice(
    api: httpx.AsyncClient,
    engine: Engine,
    database_url: str,
    mail_settings: Settings,
    closed_port: int,
) -> None:
    number, _ = await _order_number(api)
    ids = _queue(engine, mail_settings, number, 60)
    mailbox = SlowMailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=closed_port)
    controller.start()
    # Two dispatchers as two worker processes would run them: each with its own engine.
    engines = [make_engine(database_url), make_engine(database_url)]
    relay_settings = mail_settings.model_copy(update={"smtp_port": closed_port})
    try:
        results = await asyncio.gather(
            *(
                ActivityEnvironment().run(
                    OutboxActivities(e, relay_settings).drain_outbox, DrainOutboxInput(seconds=4)
                )
                for e in engines
            )
        )
    finally:
        controller.stop()
        for e in engines:
            e.dispose()

    assert sorted(_message_ids(mailbox)) == sorted(_expected(ids))  # each exactly once
    assert sum(r.sent for r in results) == 60
    assert all(r.sent > 0 for r in results), results  # both really sent: they ran side by side
    assert {(r.status, r.attempts) for r in _rows(engine, ids)} == {("sent", 1)}


def test_concurrent_claims_pass_each_other_on_postgresql(
    loose_rows: str, engine: Engine, database_url: str
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer: a second claim waits for the first to commit")
    now = utcnow()
    lease = now + timedelta(seconds=60)
    with Session(engine) as first:
        mine = [
            m.id
            for m in outbox_service.claim_due(session=first, now=now, lease_until=lease, limit=3)
        ]
        # The first claim has not committed: its rows are locked. The second takes others at
        # once instead of waiting for the lock.
        found: list[list[int]] = []
        other = threading.Thread(target=lambda: found.append(_claim_ids(engine, now, lease)))
        other.start()
        other.join(10)
        assert not other.is_alive(), "the second claim waited for the first one's locks"
        first.commit()
    assert len(mine) == 3 and len(found[0]) == 3
    assert not set(mine) & set(found[0])
    assert _claim_ids(engine, now, lease) == []  # all six leased: nothing due until it ends


def _claim_ids(engine: Engine, now, lease) -> list[int]:
    with session_scope(engine) as session:
        claimed = outbox_service.claim_due(session=session, now=now, lease_until=lease, limit=3)
        return [m.id or 0 for m in claimed]


@pytest.fixture
def loose_rows(engine: Engine) -> str:
    """Six pending dispatcher rows without any order (as `enqueue` stores them)."""
    with session_scope(engine) as session:
        for n in range(6):
            outbox_service.enqueue(
                session=session,
                key=f"loose:{n}",
                kind="order_confirmation",
                order_number=None,
                recipients=["someone@example.com"],
                mail=RenderedMail(subject="s", text="t", html="<p>h</p>"),
            )
    return "loose"


async def test_rows_claimed_by_a_dead_dispatcher_go_out_when_its_lease_ends(
    api: httpx.AsyncClient, engine: Engine, mail_settings: Settings, mailbox: Mailbox
) -> None:
    number, _ = await _order_number(api)
    ids = _queue(engine, mail_settings, number, 2)
    # A dispatcher claimed both (lease of 2 s) and died before it sent anything.
    now = utcnow()
    with session_scope(engine) as session:
        claimed = outbox_service.claim_due(
            session=session, now=now, lease_until=now + timedelta(seconds=2), limit=10
        )
    assert sorted(m.id for m in claimed) == ids

    drain = OutboxActivities(engine, mail_settings).drain_outbox
    task = asyncio.ensure_future(ActivityEnvironment().run(drain, DrainOutboxInput(seconds=4)))
    await asyncio.sleep(1.0)
    assert mailbox.messages == []  # still leased to the dead one
    result = await task
    assert result.sent == 2
    assert sorted(_message_ids(mailbox)) == sorted(_expected(ids))
    assert all(r.sent_at and r.sent_at >= now + timedelta(seconds=2) for r in _rows(engine, ids))


async def test_rows_of_the_legacy_activity_have_one_sender(
    api: httpx.AsyncClient, engine: Engine, mail_settings: Settings, mailbox: Mailbox
) -> None:
    number, email = await _order_number(api)
    [legacy] = _queue(engine, mail_settings, number, 1, dispatch=False)
    drain = OutboxActivities(engine, mail_settings).drain_outbox
    result = await ActivityEnvironment().run(drain, DrainOutboxInput(seconds=1.5))
    assert (result.sent, mailbox.messages) == (0, [])  # left to its activity
    [row] = _rows(engine, [legacy])
    assert (row.status, row.attempts, row.claimed_until) == ("pending", 0, None)

    mail = NotificationActivities(engine, mail_settings)
    sent = await ActivityEnvironment().run(
        mail.send_notification,
        NotifyInput(key=row.key, kind="order_confirmation", order_number=number),
    )
    assert (sent.status, _message_ids(mailbox)) == ("sent", _expected([legacy]))

    # And the other way round: a dispatcher row under a key the activity asks for stays the
    # dispatcher's.
    [queued] = _queue(engine, mail_settings, number, 2)[1:]
    [queued_row] = _rows(engine, [queued])
    left = await ActivityEnvironment().run(
        mail.send_notification,
        NotifyInput(key=queued_row.key, kind="order_confirmation", order_number=number),
    )
    assert (left.status, left.recipients) == ("queued", [email])
    assert len(mailbox.messages) == 1


def _start_worker(settings: Settings) -> subprocess.Popen:
    env = {**conveyor_env(settings), "CONVEYOR_OUTBOX_RETRY_MAX_SECONDS": "2"}
    return subprocess.Popen([sys.executable, "-m", "worker"], cwd=ROOT, env=env)


async def test_a_killed_worker_loses_no_mail_and_sends_none_twice(
    api: httpx.AsyncClient,
    engine: Engine,
    mail_settings: Settings,
    closed_port: int,
    relay: Callable[[], Mailbox],
) -> None:
    number, _ = await _order_number(api)
    ids = _queue(engine, mail_settings, number, 10)
    down = mail_settings.model_copy(update={"smtp_port": closed_port})
    first = _start_worker(down)
    try:
        # Its dispatcher runs and tries every row (the relay is down), then it dies (kill -9).
        await _wait_for(lambda: all(r.attempts >= 1 for r in _rows(engine, ids)), timeout=90)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    finally:
        if first.poll() is None:
            first.kill()
    assert {r.status for r in _rows(engine, ids)} == {"pending"}

    mailbox = relay()
    second = _start_worker(down)
    try:
        # The drain that died is retried on the new worker after its heartbeat timeout.
        await _wait_for(lambda: len(mailbox.messages) >= len(ids), timeout=90)
        await asyncio.sleep(1.5)
    finally:
        stop(second)
    assert sorted(_message_ids(mailbox)) == sorted(_expected(ids))
    assert {r.status for r in _rows(engine, ids)} == {"sent"}


def test_retry_now_waives_the_backoff_but_never_a_claim(loose_rows: str, engine: Engine) -> None:
    backoff = Backoff(initial_seconds=60, maximum_seconds=600)
    now = utcnow()
    with session_scope(engine) as session:
        first, second, *_ = outbox_service.claim_due(
            session=session, now=now, lease_until=now + timedelta(seconds=60), limit=6
        )
        ids = (first.id or 0, second.id or 0)
        # The first was refused (backed off for a minute); the second is still being sent.
        outbox_service.record_failure(
            session=session, message_id=ids[0], error="421 try later", backoff=backoff
        )
    with session_scope(engine) as session:
        assert [m.id for m in _due(session)] == []  # backed off, or claimed
        assert (
            outbox_service.retry_now(session=session, message_id=ids[0], actor=Actor.cli("test"))
            is not None
        )
        assert (
            outbox_service.retry_now(session=session, message_id=ids[1], actor=Actor.cli("test"))
            is not None
        )
    with session_scope(engine) as session:
        assert [m.id for m in _due(session)] == [ids[0]]  # the claim on the second stands
        outbox_service.mark_sent(session=session, message_id=ids[0])
    with session_scope(engine) as session:
        assert (
            outbox_service.retry_now(session=session, message_id=ids[0], actor=Actor.cli("test"))
            is None
        )  # sent


def _due(session: Session) -> list[OutboxMessage]:
    now = utcnow()
    return outbox_service.claim_due(
        session=session, now=now, lease_until=now + timedelta(seconds=1), limit=10
    )
