"""Return flows: record the receipt in the database first, then run its ReturnWorkflow.

The receipt commits before Temporal is touched, so a receipt the caller was told about is never
lost: should the start fail, the same request again starts the workflow (its id is fixed).
"""

import asyncio
from collections.abc import Sequence
from typing import Protocol

from sqlmodel import Session
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from conveyor.audit.service import Actor
from conveyor.auth.permissions import Permission
from conveyor.core.db import session_scope
from conveyor.core.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from conveyor.core.state import AppState, in_session
from conveyor.returns import service as return_service
from conveyor.returns.models import ReceiveLine, ReturnAuthorisation, ReturnStatus
from workflows.return_types import (
    APPROVED,
    DECIDE_REFUND,
    NOT_WAITING_FOR_DECISION,
    REJECTED,
    RETURN_WORKFLOW,
    RefundDecided,
    RefundDecision,
    ReturnInput,
    ReturnResult,
    return_workflow_id,
)

# How long a receive request waits for restock, credit note and refund before it answers
# "still processing" (202); the workflow goes on regardless.
RECEIVE_WAIT_SECONDS = 30.0
# While it waits, how often it looks whether the return now waits for an accountant instead.
APPROVAL_POLL_SECONDS = 0.2
# The approval task commits a moment before the workflow waits for it: a decision that quick is
# retried for this long, not refused.
DECISION_NOT_YET_AWAITED_SECONDS = 5.0
DECISION_TIMEOUT_SECONDS = 30.0


class Approver(Protocol):
    """Who decides an approval task: `api.deps.Principal` is one."""

    is_admin: bool

    @property
    def employee_id(self) -> int | None: ...

    @property
    def name(self) -> str: ...

    def can(self, permission: Permission) -> bool: ...


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
    actor: Actor,
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
    if current in (ReturnStatus.RECEIVED, ReturnStatus.REJECTED):
        return True  # a repeat of a receipt that is done: nothing to run again
    if current == ReturnStatus.PENDING_APPROVAL:
        return False  # restocked; the credit waits for an accountant
    run = asyncio.ensure_future(_run(state, order_number, number))
    # A credit above the approval amount waits for an accountant: answer then, not after 30 s.
    waiting = asyncio.ensure_future(_awaiting_approval(state, number))
    try:
        done, _ = await asyncio.wait(
            {run, waiting}, timeout=wait_seconds, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        waiting.cancel()
    if run not in done:
        run.cancel()
        return False
    try:
        run.result()
    except WorkflowFailureError as exc:
        raise ReturnFailedError(f"return {number} could not be processed: {exc.cause}") from exc
    return True


async def _awaiting_approval(state: AppState, number: str) -> None:
    """Returns once the return waits for an accountant's approval."""

    def status() -> str | None:
        with session_scope(state.read_engine) as session:
            rma = return_service.get_by_number(session=session, number=number)
            return rma.status if rma else None

    while await asyncio.to_thread(status) != ReturnStatus.PENDING_APPROVAL:
        await asyncio.sleep(APPROVAL_POLL_SECONDS)


async def decide(
    state: AppState,
    *,
    number: str,
    task_id: int,
    outcome: str,
    note: str | None,
    caller: Approver,
    source: str = "api",
) -> RefundDecided:
    """An accountant approves (credit note and refund follow) or rejects (neither) the credit.

    Forbidden without `refunds.approve`, and for whoever authorised or received the return
    (separation of duties); Invalid for an outcome other than approved/rejected; Conflict when
    the return does not wait for this decision.
    """
    if not caller.can(Permission.REFUNDS_APPROVE):
        raise Forbidden(f"approving a refund needs the {Permission.REFUNDS_APPROVE} permission")
    if outcome not in (APPROVED, REJECTED):
        raise Invalid(f"a refund approval is {APPROVED} or {REJECTED}, not {outcome}")

    def load(session: Session) -> ReturnAuthorisation:
        rma = return_service.get_by_number(session=session, number=number)
        if rma is None:
            raise ReturnNotFoundError(f"return {number} not found")
        return rma

    rma = await in_session(state, load, read_only=True)
    if caller.employee_id is not None and caller.name in (rma.created_by, rma.received_by):
        raise Forbidden(
            f"{caller.name} authorised or received return {number}: "
            "someone else approves its refund"
        )
    if rma.status != ReturnStatus.PENDING_APPROVAL:
        raise Conflict(f"return {number} is {rma.status}: no refund approval is pending")
    request = RefundDecision(
        task_id=task_id,
        outcome=outcome,
        note=note,
        actor=caller.name,
        employee_id=caller.employee_id,
        source=source,
    )
    try:
        client = await state.temporal()
    except Exception as exc:  # any connection failure means "unavailable"
        raise TemporalUnavailableError("Temporal is unreachable: repeat the request") from exc
    handle = client.get_workflow_handle(return_workflow_id(rma.order_number, number))
    deadline = asyncio.get_running_loop().time() + DECISION_NOT_YET_AWAITED_SECONDS
    while True:
        try:
            return await asyncio.wait_for(
                handle.execute_update(DECIDE_REFUND, request, result_type=RefundDecided),
                timeout=DECISION_TIMEOUT_SECONDS,
            )
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            refusal = cause.type if isinstance(cause, ApplicationError) else None
            soon = refusal == NOT_WAITING_FOR_DECISION
            if not soon or asyncio.get_running_loop().time() >= deadline:
                message = getattr(cause, "message", None) or str(cause)
                raise Conflict(f"return {number}: {message}") from exc
            await asyncio.sleep(0.2)
        except RPCError as exc:
            raise Conflict(f"return {number}: {exc.message}") from exc


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
