"""OutboundDispatcherWorkflow: one per task queue, it keeps the outbound webhooks going out."""

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.outbound_activities import (
        DrainOutboundInput,
        DrainOutboundResult,
        OutboundActivities,
    )

# A worker killed mid-drain is noticed this quickly, and the drain retried on another worker.
HEARTBEAT_TIMEOUT = timedelta(seconds=10)
# The drain returns by itself after its time; this only bounds one that hangs past it.
DRAIN_SLACK = timedelta(minutes=2)
# Never gives up: a drain fails only when the database is unreachable (a subscriber's refusals
# are counted per delivery, with their own backoff, inside the drain).
DRAIN_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)


@dataclass
class OutboundDispatcherInput:
    drain_seconds: float = 300.0  # one drain's length; the run then continues as new


def outbound_dispatcher_id(task_queue: str) -> str:
    """The workflow id of a task queue's dispatcher: `outbound-dispatcher-<task queue>`."""
    return f"outbound-dispatcher-{task_queue}"


@workflow.defn
class OutboundDispatcherWorkflow:
    """Delivers the outbound webhook events that business activities stored with their effects.

    Steps: one long `drain_outbound` activity (claims due deliveries in batches, POSTs them,
    heartbeats), then continue-as-new, so every run's history stays a dozen events. No handlers
    and no compensation; the worker starts it (one per task queue) if none runs.
    """

    @workflow.run
    async def run(self, request: OutboundDispatcherInput) -> None:  # continues as new
        drained: DrainOutboundResult = await workflow.execute_activity_method(
            OutboundActivities.drain_outbound,
            DrainOutboundInput(seconds=request.drain_seconds),
            start_to_close_timeout=timedelta(seconds=request.drain_seconds) + DRAIN_SLACK,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=DRAIN_RETRY,
        )
        workflow.logger.debug(
            "outbound drain: %s delivered, %s failed", drained.delivered, drained.failed
        )
        workflow.continue_as_new(request)
