"""A sync activity cancelled while it waits for SQLite's writer lock does not keep the lock.

Temporal cancels a sync activity by raising an exception in its thread, at whatever line it is
on. Raised the moment the in-process writer lock was granted, before the transaction recorded
that it holds it, the lock was never released, and every later write of the worker waited for
it and failed (`DatabaseBusy`), forever: the chaos run saw a worker stop writing so. A unit of
work in an activity now holds such an exception until it has committed or rolled back.
"""

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from conveyor.core.db import _writer_lock, make_engine, session_scope


@workflow.defn(sandboxed=False)
class WriteOnceWorkflow:
    """Runs the one activity of the test."""

    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity("write_one", start_to_close_timeout=timedelta(seconds=60))


async def test_cancel_raised_as_the_lock_is_granted_does_not_keep_it(
    temporal_client: Client, tmp_path: Path
) -> None:
    path = tmp_path / "cancel.db"
    engine = make_engine(f"sqlite:///{path}", busy_timeout_seconds=30)
    with session_scope(engine) as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
    writer = _writer_lock(str(path))
    entered = threading.Event()

    @activity.defn(name="write_one")
    def write_one() -> None:
        entered.set()
        with session_scope(engine) as session:  # waits for the lock the test holds
            session.execute(text("INSERT INTO t VALUES (1)"))

    queue = f"writer-cancel-{uuid.uuid4().hex[:8]}"
    assert writer.acquire(timeout=5)
    worker = Worker(
        temporal_client,
        task_queue=queue,
        workflows=[WriteOnceWorkflow],
        activities=[write_one],
        activity_executor=ThreadPoolExecutor(2),
        workflow_runner=UnsandboxedWorkflowRunner(),
        graceful_shutdown_timeout=timedelta(0),
    )
    running = asyncio.create_task(worker.run())
    released = False
    try:
        await temporal_client.start_workflow(
            WriteOnceWorkflow.run, id=f"writer-cancel-{uuid.uuid4()}", task_queue=queue
        )
        assert await asyncio.to_thread(entered.wait, 30), "the activity did not start"
        await asyncio.sleep(0.5)  # it waits in the lock now
        # Shutting down cancels the running activity: its thread gets the exception as soon
        # as it runs Python again, which is when the lock is granted.
        stopping = asyncio.create_task(worker.shutdown())
        await asyncio.sleep(1.0)
        writer.release()
        released = True
        async with asyncio.timeout(30):
            await stopping
            await running
    finally:
        if not released:
            writer.release()
    assert writer.acquire(timeout=5), "the cancelled activity kept the writer lock"
    writer.release()
    with session_scope(engine) as session:
        rows = session.execute(text("SELECT count(*) FROM t")).one()
    assert rows[0] == 1  # the unit of work finished, then the cancel was raised
    engine.dispose()
