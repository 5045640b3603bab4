"""Return flows: record the receipt in the database first, then run its ReturnWorkflow.

The receipt commits before Temporal is touched, so a receipt the caller was told about is never
lost: should the start fail, the same request again starts the workflow (its id is fixed).
"""

import asyncio
from collections.abc import Sequence

from temporalio.client import WorkflowFailureError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from conveyor.core.db import session_scope
from conveyor.core.errors import Conflict, NotFound, Unavailable
from conveyor.core.state import AppState
from conveyor.returns import service as return_service
from conveyor.returns.models import ReceiveLine, ReturnStatus
from workflows.return_types import RETURN_WORKFLOW, ReturnInput, ReturnResult, return_workflow_id

# How long a receive request waits for restock, credit note and refund before it answers
# "still processing" (202); the workflow goes on regardless.
RECEIVE_WAIT_SECONDS = 30.0


class ReturnNotFoundError(NotFound):
    """No return has that number."""


class TemporalUnavailableError(Unavailable):
    """The receipt is recorded but Temporal cannot be reached; repeating the request resumes."""


class ReturnFailedError(Conflict):
    """The return's workflow failed for good (e.g. goods that were never invoiced)."""


async def receive(
    state: AppState,
    *,
    number: str,
    received: Sequence[ReceiveLine],
    actor: str,
    wait_seconds: float = RECEIVE_WAIT_SECONDS,
) -> bool:
    """Record what came back, then restock, credit and refund through the workflow.

    True when the return is fully processed, False when the workflow is still at it.
    """

    def record() -> tuple[str, str]:
        with session_scope(state.engine) as session:
            # Locked: two receipts of one return at once are recorded one after the other.
            rma = return_service.get_by_number(session=session, number=number, for_update=True)
            if rma is None:
                raise ReturnNotFoundError(f"return {number} not found")
            rma = return_service.record_receipt(
                session=session, rma=rma, received=received, actor=actor
            )
            return rma.order_number, rma.status

    order_number, current = await asyncio.to_thread(record)
    if current == ReturnStatus.RECEIVED:
        return True  # a repeat of a receipt that is done: nothing to run again
    try:
        await asyncio.wait_for(_run(state, order_number, number), timeout=wait_seconds)
    except TimeoutError:
        return False
    except WorkflowFailureError as exc:
        raise ReturnFailedError(f"return {number} could not be processed: {exc.cause}") from exc
    return True


async def _run(state: AppState, order_number: str, number: str) -> ReturnResult:
    try:
        client = await state.temporal()
    except Exception as exc:  # any connection failure means "unavailable"
        raise TemporalUnavailableError(
            f"return {number} is recorded, but Temporal is unreachable: repeat the request"
        ) from exc
    workflow_id = return_workflow_id(order_number, number)
    try:
        handle = await client.start_workflow(
            RETURN_WORKFLOW,
            ReturnInput(
                return_number=number,
                order_number=order_number,
                activity_timeout_seconds=state.settings.activity_timeout_seconds,
            ),
            id=workflow_id,
            task_queue=state.settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            result_type=ReturnResult,
        )
    except WorkflowAlreadyStartedError:
        handle = client.get_workflow_handle(workflow_id, result_type=ReturnResult)
    return await handle.result()
