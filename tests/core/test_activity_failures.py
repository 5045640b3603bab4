"""An activity's unexpected exception reaches Temporal bounded: its type, its first line, no
traceback, so the failure Temporal keeps while it retries is the reason and not "Failure
exceeds size limit" (the server truncates one over 4 KB); retry policies still match the type."""

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from temporalio import activity, workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from conveyor.core.db import make_engine, session_scope
from conveyor.core.failures import MESSAGE_CHARS, BoundedFailures, bounded_message


class InvalidRequest(Exception):
    """Named as the order workflow's retry policy names its non-retryable errors."""


REFUSALS: list[str] = []


@workflow.defn(sandboxed=False)
class FailingWorkflow:
    @workflow.run
    async def run(self, name: str, attempts: int, seconds: float) -> None:
        await workflow.execute_activity(
            name,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=seconds),
                backoff_coefficient=1,
                maximum_attempts=attempts,
                non_retryable_error_types=["InvalidRequest"],
            ),
        )


async def _worker(client: Client, queue: str, path: Path) -> Worker:
    engine = make_engine(f"sqlite:///{path}")

    @activity.defn(name="query_a_missing_table")
    def query_a_missing_table() -> None:
        # The error's text carries the statement: 8 KB of it here.
        values = ", ".join(str(n) for n in range(1500))
        with session_scope(engine) as session:
            session.execute(text(f"SELECT * FROM missing WHERE x IN ({values})"))

    @activity.defn(name="refuse")
    def refuse() -> None:
        REFUSALS.append("refused")
        raise InvalidRequest("no such thing\n" + "detail " * 2000)

    return Worker(
        client,
        task_queue=queue,
        workflows=[FailingWorkflow],
        activities=[query_a_missing_table, refuse],
        activity_executor=ThreadPoolExecutor(4),
        workflow_runner=UnsandboxedWorkflowRunner(),
        interceptors=[BoundedFailures()],
    )


async def test_a_retried_failure_is_kept_with_its_reason(
    temporal_client: Client, tmp_path: Path
) -> None:
    queue = f"failures-{uuid.uuid4().hex[:8]}"
    async with await _worker(temporal_client, queue, tmp_path / "f.db"):
        handle = await temporal_client.start_workflow(
            FailingWorkflow.run,
            args=["query_a_missing_table", 3, 2.0],
            id=f"failing-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )
        # What the Temporal UI shows while the activity retries: the pending activity's failure.
        message = ""
        for _ in range(100):
            pending = (await handle.describe()).raw_description.pending_activities
            if pending and pending[0].HasField("last_failure"):
                message = pending[0].last_failure.message
                break
            await asyncio.sleep(0.1)
        assert message == "(sqlite3.OperationalError) no such table: missing", message
        assert pending[0].last_failure.application_failure_info.type == "OperationalError"

        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
    cause = failed.value.cause
    assert isinstance(cause, ActivityError) and isinstance(cause.cause, ApplicationError)
    assert cause.cause.type == "OperationalError" and cause.retry_state is not None
    assert cause.cause.failure is not None and len(cause.cause.failure.stack_trace) < 2000


async def test_a_failure_keeps_its_type_for_the_retry_policy(
    temporal_client: Client, tmp_path: Path
) -> None:
    queue = f"failures-{uuid.uuid4().hex[:8]}"
    async with await _worker(temporal_client, queue, tmp_path / "f.db"):
        with pytest.raises(WorkflowFailureError) as failed:
            await temporal_client.execute_workflow(
                FailingWorkflow.run,
                args=["refuse", 5, 0.1],
                id=f"refusing-{uuid.uuid4().hex[:8]}",
                task_queue=queue,
            )
    cause = failed.value.cause
    assert isinstance(cause, ActivityError) and isinstance(cause.cause, ApplicationError)
    assert cause.cause.type == "InvalidRequest"
    assert cause.cause.message == "no such thing"
    assert REFUSALS == ["refused"]  # one attempt: non-retryable by its type, as before


def test_a_long_first_line_is_cut() -> None:
    message = bounded_message(RuntimeError("z" * 5000))
    assert message.startswith("z" * MESSAGE_CHARS) and len(message) < MESSAGE_CHARS + 50
    assert message.endswith("(the worker's log has the rest)")
    assert bounded_message(RuntimeError()) == "RuntimeError"
