"""What the monitor asks Temporal: activities that keep failing, and retrying one now."""

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import ResetActivityRequest
from temporalio.client import Client

from conveyor.core.temporal import order_workflow_id

DESCRIBE_TIMEOUT_SECONDS = 5.0


@dataclass
class FailingActivity:
    """A pending activity of an order's workflow that failed at least once and is retrying."""

    order_number: str
    activity_id: str
    activity_type: str
    attempt: int
    last_failure: str
    next_attempt_at: datetime | None


async def _failing_of(client: Client, number: str) -> list[FailingActivity]:
    handle = client.get_workflow_handle(order_workflow_id(number))
    try:
        description = await asyncio.wait_for(handle.describe(), DESCRIBE_TIMEOUT_SECONDS)
    except Exception:  # noqa: BLE001 - a workflow not started yet or gone: nothing to show
        return []
    found = []
    for pending in description.raw_description.pending_activities:
        if pending.attempt <= 1 and not pending.HasField("last_failure"):
            continue
        next_at = (
            pending.next_attempt_schedule_time.ToDatetime(tzinfo=UTC)
            if pending.HasField("next_attempt_schedule_time")
            else None
        )
        found.append(
            FailingActivity(
                order_number=number,
                activity_id=pending.activity_id,
                activity_type=pending.activity_type.name,
                attempt=pending.attempt,
                last_failure=pending.last_failure.message or "(no message)",
                next_attempt_at=next_at,
            )
        )
    return found


async def failing_activities(client: Client, numbers: list[str]) -> list[FailingActivity]:
    """Retrying activities of these orders' workflows, most attempts first."""
    results = await asyncio.gather(*(_failing_of(client, n) for n in numbers))
    flat = [activity for result in results for activity in result]
    return sorted(flat, key=lambda a: (-a.attempt, a.order_number))


async def retry_activity(client: Client, *, namespace: str, number: str, activity_id: str) -> None:
    """Run a retrying activity again now, with its attempts reset (Temporal's ResetActivity)."""
    await client.workflow_service.reset_activity(
        ResetActivityRequest(
            namespace=namespace,
            execution=WorkflowExecution(workflow_id=order_workflow_id(number)),
            id=activity_id,
            identity="conveyor-monitor",
        )
    )
