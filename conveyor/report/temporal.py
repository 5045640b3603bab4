"""What the monitor asks Temporal: activities that keep failing, and retrying one now."""

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import ResetActivityRequest
from temporalio.client import Client

from conveyor.core.temporal import order_workflow_id

DESCRIBE_TIMEOUT_SECONDS = 5.0
# Describes of one listing in flight at once (the listing covers at most 40 orders).
DESCRIBE_CONCURRENCY = 8


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
    """Retrying activities of these orders' workflows, most attempts first.

    At most `DESCRIBE_CONCURRENCY` describe calls are in flight at once.
    """
    gate = asyncio.Semaphore(DESCRIBE_CONCURRENCY)

    async def one(number: str) -> list[FailingActivity]:
        async with gate:
            return await _failing_of(client, number)

    results = await asyncio.gather(*(one(n) for n in numbers))
    flat = [activity for result in results for activity in result]
    return sorted(flat, key=lambda a: (-a.attempt, a.order_number))


class FailingCache:
    """The monitor's failing-activities listing, shared by every refresh for `ttl` seconds.

    However many people keep the monitor open, Temporal sees one round of describes per `ttl`
    (refreshes arriving while one runs wait for it instead of starting their own).
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._lock = asyncio.Lock()
        self._at = float("-inf")
        self._value: tuple[list[str], list[FailingActivity]] | None = None
        self.rounds = 0  # how many times Temporal was actually asked (for tests and the page)

    async def get(
        self,
        numbers: Callable[[], Awaitable[list[str]]],
        client: Callable[[], Awaitable[Client]],
    ) -> tuple[list[str], list[FailingActivity]]:
        """(the orders checked, their failing activities), fresh or at most `ttl` old."""
        async with self._lock:
            now = time.monotonic()
            if self._value is not None and now - self._at < self.ttl:
                return self._value
            checked = await numbers()
            found = await failing_activities(await client(), checked)
            self.rounds += 1
            self._value, self._at = (checked, found), time.monotonic()
            return self._value

    def clear(self) -> None:
        """Forget the listing (after a retry, so the next refresh shows its effect)."""
        self._value = None


# One cache per app, dropped with it (AppState is an unhashable dataclass: keyed by its id).
_CACHES: dict[int, FailingCache] = {}


def failing_cache(owner: object, ttl: float) -> FailingCache:
    """The listing cache of one app (`owner`: its AppState)."""
    key = id(owner)
    cache = _CACHES.get(key)
    if cache is None:
        cache = _CACHES[key] = FailingCache(ttl)
        weakref.finalize(owner, _CACHES.pop, key, None)
    return cache


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
