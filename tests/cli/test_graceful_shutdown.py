"""SIGTERM: the worker finishes its running activities and the API its requests, then they exit.

Both run as real processes (`conveyor worker`, `conveyor api`) with a grace period of
GRACE_SECONDS; what keeps them busy is real: a relay slow to accept a message (the outbox
dispatcher's activity is mid-send), a database write lock held by the test (a request waits on
it). `conveyor dev` stops the API first and gives each child the grace period before it kills it.
"""

import asyncio
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import psycopg
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from conveyor.cli.dev import STOP_SLACK_SECONDS, _Child, stop_children
from conveyor.core import temporal_server
from conveyor.core.db import session_scope
from conveyor.core.settings import Settings
from conveyor.customer.models import Customer
from conveyor.notification import service as outbox_service
from conveyor.notification.models import OutboxMessage, OutboxStatus
from conveyor.notification.render import RenderedMail
from tests.conftest import ADMIN_TOKEN
from tests.utils.processes import ROOT, conveyor_env, stop
from workflows.outbound_dispatcher import outbound_dispatcher_id
from workflows.outbox_dispatcher import outbox_dispatcher_id

GRACE_SECONDS = 20
SLOW_SECONDS = 3.0  # how long the slow relay, or the held lock, keeps the work in flight
STARTUP_SECONDS = 90


class SlowRelay:
    """A real SMTP server (aiosmtpd) that takes SLOW_SECONDS to accept each message."""

    def __init__(self) -> None:
        self.receiving = threading.Event()  # a message's DATA has arrived, not yet answered
        self.accepted: list[bytes] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.receiving.set()
        await asyncio.sleep(SLOW_SECONDS)
        self.accepted.append(envelope.content)
        return "250 Message accepted for delivery"


@contextmanager
def slow_relay() -> Iterator[tuple[SlowRelay, int]]:
    relay = SlowRelay()
    port = temporal_server.free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield relay, port
    finally:
        controller.stop()


def _env(settings: Settings) -> dict[str, str]:
    return {
        **conveyor_env(settings),
        "CONVEYOR_ADMIN_TOKEN": ADMIN_TOKEN,
        "CONVEYOR_DATA_DIR": str(settings.data_dir),
        "CONVEYOR_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
    }


def _start(settings: Settings, args: list[str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "conveyor.cli.main", *args],
            cwd=ROOT,
            env=_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _terminate_and_wait(process: subprocess.Popen) -> tuple[int, float]:
    """SIGTERM, then the exit status and how long the process took to exit."""
    started = time.monotonic()
    process.terminate()
    returncode = process.wait(GRACE_SECONDS + 15)
    return returncode, time.monotonic() - started


async def _activity_outcomes(client: Client, workflow_id: str, run_id: str) -> list[str]:
    """The drain activity's started attempts and how it ended, in one run's history."""
    outcomes = []
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attempt = event.activity_task_started_event_attributes.attempt
            outcomes.append(f"started attempt {attempt}")
        elif event.event_type in (
            EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
            EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
            EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
            EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
        ):
            outcomes.append(EventType.Name(event.event_type).removeprefix("EVENT_TYPE_"))
    return outcomes


async def test_sigterm_lets_the_worker_finish_a_running_activity_then_exit(
    settings: Settings, engine: Engine, temporal_client: Client, tmp_path: Path
) -> None:
    with session_scope(engine) as session:
        outbox_service.enqueue(
            session=session,
            key=f"shutdown:{uuid.uuid4().hex}",
            kind="order_confirmation",
            order_number=None,
            recipients=["someone@example.com"],
            mail=RenderedMail(subject="Slow relay", text="t", html="<p>h</p>"),
        )
    with slow_relay() as (relay, port):
        worker_settings = settings.model_copy(update={"smtp_port": port})
        worker = _start(worker_settings, ["worker"], tmp_path / "worker.log")
        try:
            # The dispatcher's drain is mid-send: the relay has the message, not yet accepted.
            assert await asyncio.to_thread(relay.receiving.wait, STARTUP_SECONDS)
            runs = {}
            for workflow_id in (
                outbox_dispatcher_id(settings.task_queue),
                outbound_dispatcher_id(settings.task_queue),
            ):
                runs[workflow_id] = (
                    await temporal_client.get_workflow_handle(workflow_id).describe()
                ).run_id
            returncode, took = await asyncio.to_thread(_terminate_and_wait, worker)
        finally:
            stop(worker)
    assert returncode == 0, (tmp_path / "worker.log").read_text()
    assert took < GRACE_SECONDS  # the drains ended by themselves, not cancelled at the grace
    # The message went out once and is marked sent: the worker waited for the relay's answer.
    assert len(relay.accepted) == 1
    with Session(engine) as session:
        message = session.exec(select(OutboxMessage)).one()
    assert message.status == OutboxStatus.SENT and message.attempts == 1
    # Both drains completed in their first attempt: nothing cancelled, timed out or retried.
    for workflow_id, run_id in runs.items():
        assert await _activity_outcomes(temporal_client, workflow_id, run_id) == [
            "started attempt 1",
            "ACTIVITY_TASK_COMPLETED",
        ], workflow_id
        await temporal_client.get_workflow_handle(workflow_id).terminate()  # nobody polls now


@contextmanager
def write_lock(database_url: str) -> Iterator[None]:
    """Hold the database's write lock (SQLite) or the customer table's (PostgreSQL)."""
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(database_url.split("///", 1)[1], isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("LOCK TABLE customer IN EXCLUSIVE MODE")
        yield
        conn.rollback()


def _refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


@asynccontextmanager
async def api_process(settings: Settings, log: Path) -> AsyncIterator[tuple[subprocess.Popen, int]]:
    port = temporal_server.free_port()
    process = _start(settings, ["api", "--port", str(port)], log)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "conveyor api did not start"
                await asyncio.sleep(0.2)
        yield process, port
    finally:
        stop(process)


async def test_sigterm_lets_the_api_answer_a_request_in_flight_then_exit(
    settings: Settings, engine: Engine, database_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "api.log"
    email = f"graceful-{uuid.uuid4().hex[:8]}@example.com"
    async with api_process(settings, log) as (api, port):
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=GRACE_SECONDS + 30
        ) as client:
            with write_lock(database_url):
                creating = asyncio.create_task(
                    client.post("/api/customers", json={"name": "Graceful", "email": email})
                )
                await asyncio.sleep(SLOW_SECONDS / 2)
                assert not creating.done()  # waiting for the lock the test holds
                api.terminate()
                # The listening socket closes at once: new connections are refused ...
                deadline = time.monotonic() + 10
                while not _refuses_connections(port):
                    assert time.monotonic() < deadline, "still accepting after SIGTERM"
                    await asyncio.sleep(0.1)
                # ... while the request in flight goes on, and the process with it.
                await asyncio.sleep(SLOW_SECONDS / 2)
                assert not creating.done() and api.poll() is None
                released = time.monotonic()
            response = await creating
        assert response.status_code == 201, response.text
        assert response.json()["email"] == email
        returncode = await asyncio.to_thread(api.wait, GRACE_SECONDS + 15)
        took = time.monotonic() - released
    assert returncode == 0, log.read_text()
    assert took < GRACE_SECONDS
    with Session(engine) as session:
        assert session.exec(select(Customer).where(Customer.email == email)).one()


def _child(tmp_path: Path, name: str, on_sigterm: str) -> _Child:
    """A real child of `conveyor dev`'s kind: a Python process that notes the time of SIGTERM in
    its log, then does `on_sigterm`."""
    script = (
        "import signal, sys, time\n"
        "def on_term(*_):\n"
        "    print('sigterm', time.time(), flush=True)\n"
        f"    {on_sigterm}\n"
        "signal.signal(signal.SIGTERM, on_term)\n"
        "print('ready', flush=True)\n"
        "while True: time.sleep(0.1)\n"
    )
    log = tmp_path / f"{name}.log"
    child = _Child(name, [sys.executable, "-c", script], {}, log)
    child.start()
    deadline = time.monotonic() + 30
    while "ready" not in log.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return child


def _sigterm_at(child: _Child) -> float:
    return float(child.log.read_text().split("sigterm ", 1)[1].split()[0])


def test_dev_stops_the_api_first_and_waits_the_grace_period_before_killing(tmp_path: Path) -> None:
    # Started in this order, as `conveyor dev` starts them; the API never stops by itself, the
    # worker takes 2 s to finish its work after SIGTERM.
    worker = _child(tmp_path, "worker", "time.sleep(2); sys.exit(0)")
    api = _child(tmp_path, "api", "pass")
    started = time.time()
    stop_children([worker, api], grace_seconds=1)
    assert worker.process is not None and api.process is not None
    assert api.process.returncode == -9  # killed once the grace (and the slack) ran out
    assert worker.process.returncode == 0  # given its time, not killed
    # The worker was told only after the API was gone (its requests may need the worker).
    assert _sigterm_at(api) - started < 1
    assert _sigterm_at(worker) - _sigterm_at(api) >= 1 + STOP_SLACK_SECONDS - 0.5
