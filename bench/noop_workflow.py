"""The baseline: a workflow of seven no-op activities, the shape of an order without its work."""

import asyncio
import sys
from datetime import timedelta

from temporalio import activity, workflow


@activity.defn
async def noop_step(step: int) -> int:
    """Do nothing and return the step number."""
    return step


@workflow.defn
class SevenNoopsWorkflow:
    """Runs seven no-op activities one after the other."""

    @workflow.run
    async def run(self) -> int:
        for step in range(7):
            await workflow.execute_activity(
                noop_step, step, start_to_close_timeout=timedelta(seconds=10)
            )
        return 7


async def serve(address: str, task_queue: str) -> None:
    """Run a worker for the baseline as its own process (the scale-out benchmark starts two)."""
    from concurrent.futures import ThreadPoolExecutor

    from temporalio.client import Client
    from temporalio.worker import Worker

    client = await Client.connect(address)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[SevenNoopsWorkflow],
        activities=[noop_step],
        activity_executor=ThreadPoolExecutor(16),
    ):
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2]))
