"""The baseline: a workflow of seven no-op activities, the shape of an order without its work."""

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
