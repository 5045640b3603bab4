"""OutboxDispatcherWorkflow: one per task queue, it keeps the outbox's pending mail going out."""

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.outbox_activities import DrainOutboxInput, DrainOutboxResult, OutboxActivities

# A worker killed mid-drain is noticed this quickly, and the drain retried on another worker.
HEARTBEAT_TIMEOUT = timedelta(seconds=10)
# The drain returns by itself after its time; this only bounds one that hangs past it.
DRAIN_SLACK = timedelta(minutes=2)
# Never gives up: a drain fails only when the database is unreachable (SMTP failures are
# counted per message, with their own backoff, inside the drain).
DRAIN_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)


@dataclass
class OutboxDispatcherInput:
    drain_seconds: float = 300.0  # one drain's length; the run then continues as new


def outbox_dispatcher_id(task_queue: str) -> str:
    """The workflow id of a task queue's dispatcher: `outbox-dispatcher-<task queue>`."""
    return f"outbox-dispatcher-{task_queue}"


@workflow.defn
class OutboxDispatcherWorkflow:
    """Sends the outbox: the mail that business activities stored with their effects.

    Steps: one long `drain_outbox` activity (claims due rows in batches, sends them, heartbeats),
    then continue-as-new, so every run's history stays a dozen events however long it runs. No
    handlers and no compensation; the worker starts it (one per task queue) if none runs.
    """

    @workflow.run
    async def run(self, request: OutboxDispatcherInput) -> None:  # never returns: continues as new
        drained: DrainOutboxResult = await workflow.execute_activity_method(
            OutboxActivities.drain_outbox,
            DrainOutboxInput(seconds=request.drain_seconds),
            start_to_close_timeout=timedelta(seconds=request.drain_seconds) + DRAIN_SLACK,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=DRAIN_RETRY,
        )
        workflow.logger.debug("outbox drain: %s sent, %s failed", drained.sent, drained.failed)
        workflow.continue_as_new(request)
