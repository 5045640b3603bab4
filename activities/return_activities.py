"""Return activities: restock or scrap, credit note, refund, completion; each once per RMA."""

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from conveyor.audit.models import ActorKind, Source
from conveyor.audit.service import Actor
from conveyor.core.db import session_scope
from conveyor.core.settings import Settings
from conveyor.invoice.credit import NotInvoicedError
from conveyor.order import service as order_service
from conveyor.returns import service as return_service
from conveyor.returns.models import ReturnAuthorisation, ReturnStatus
from conveyor.task.service import TaskConflictError
from workflows.return_types import (
    ApprovalCheck,
    CreditResult,
    DecideReturnInput,
    RefundDecided,
    RefundResult,
    RestockResult,
    ReturnRef,
    ReturnResult,
)


def _load(session: Session, number: str) -> ReturnAuthorisation:
    rma = return_service.get_by_number(session=session, number=number)
    if rma is None:
        raise ApplicationError(
            f"return {number} not found", type="ReturnNotFound", non_retryable=True
        )
    return rma


class ReturnActivities:
    """The side effects of a received return; holds the database engine and the settings."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        # Where goods go back when the ledger shows no warehouse that shipped them.
        self.default_warehouse = settings.default_warehouse
        # A credit note above this waits for an accountant's approval task.
        self.refund_approval_above = settings.refund_approval_above

    @activity.defn
    def restock_return(self, ref: ReturnRef) -> RestockResult:
        """Restock (on-hand rises) or scrap (ledger only) what came back; once per RMA and SKU."""
        with session_scope(self.engine) as session:
            rma = _load(session, ref.return_number)
            restocked, scrapped, skus = return_service.restock(
                session=session, rma=rma, default_warehouse=self.default_warehouse
            )
            waiting = {
                order.number
                for sku in skus
                for order in order_service.backordered_with_sku(session=session, sku=sku)
                if order.number
            }
            return RestockResult(restocked, scrapped, sorted(waiting))

    @activity.defn
    def request_refund_approval(self, ref: ReturnRef) -> ApprovalCheck:
        """Open the accountant's approval task when the credit is above the approval amount."""
        with session_scope(self.engine) as session:
            rma = _load(session, ref.return_number)
            try:
                task, due = return_service.request_approval(
                    session=session, rma=rma, above=self.refund_approval_above
                )
            except NotInvoicedError as exc:
                raise ApplicationError(str(exc), type="InvalidRequest", non_retryable=True) from exc
            return ApprovalCheck(task.id if task else None, due)

    @activity.defn
    def decide_return(self, request: DecideReturnInput) -> RefundDecided:
        """Record the accountant's decision: the task completed, the return approved or rejected."""
        decision = request.decision
        actor = Actor(
            name=decision.actor,
            kind=ActorKind.EMPLOYEE if decision.employee_id else ActorKind.ADMIN_TOKEN,
            source=Source(decision.source),
            employee_id=decision.employee_id,
        )
        with session_scope(self.engine) as session:
            rma = _load(session, request.return_number)
            try:
                rma = return_service.decide(
                    session=session,
                    rma=rma,
                    task_id=decision.task_id,
                    outcome=decision.outcome,
                    note=decision.note,
                    actor=actor,
                )
            except (return_service.ReturnError, TaskConflictError) as exc:
                raise ApplicationError(str(exc), type="InvalidRequest", non_retryable=True) from exc
            outcome = (
                return_service.REJECTED
                if rma.status == ReturnStatus.REJECTED
                else return_service.APPROVED
            )
            return RefundDecided(decision.task_id, outcome)

    @activity.defn
    def credit_return(self, ref: ReturnRef) -> CreditResult:
        """Issue the credit note(s) for the returned goods at the invoiced prices and taxes."""
        with session_scope(self.engine) as session:
            rma = _load(session, ref.return_number)
            try:
                notes = return_service.credit(session=session, rma=rma)
            except (NotInvoicedError, return_service.ReturnConflictError) as exc:
                raise ApplicationError(str(exc), type="InvalidRequest", non_retryable=True) from exc
            return CreditResult([note.number for note in notes], rma.credit_total)

    @activity.defn
    def refund_return(self, ref: ReturnRef) -> RefundResult:
        """Record the refund (a negative payment) when the order was paid; once per RMA."""
        with session_scope(self.engine) as session:
            rma = _load(session, ref.return_number)
            try:
                return RefundResult(return_service.refund(session=session, rma=rma))
            except return_service.ReturnConflictError as exc:
                raise ApplicationError(str(exc), type="InvalidRequest", non_retryable=True) from exc

    @activity.defn
    def complete_return(self, ref: ReturnRef) -> ReturnResult:
        """Mark the return received and note it on the order's trail."""
        with session_scope(self.engine) as session:
            try:
                rma = return_service.complete(
                    session=session, rma=_load(session, ref.return_number)
                )
            except return_service.ReturnConflictError as exc:
                raise ApplicationError(str(exc), type="InvalidRequest", non_retryable=True) from exc
            notes = return_service.credit_notes(session=session, rma=rma)
            return ReturnResult(
                return_number=rma.number,
                status=rma.status,
                credit_notes=[note.number for note in notes],
                credit_total=rma.credit_total,
                refund=rma.refund_total,
                currency=rma.currency,
                goods=[
                    f"{qty} x {row.sku} {what}"
                    for row in return_service.lines(session=session, return_id=rma.id or 0)
                    for qty, what in ((row.restock_qty, "restocked"), (row.scrap_qty, "scrapped"))
                    if qty
                ],
            )
