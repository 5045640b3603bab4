"""ReturnWorkflow: one durable run per received return, from restock to the customer's e-mail."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.notification_activities import NotificationActivities
    from activities.return_activities import ReturnActivities
    from conveyor.core.temporal import order_workflow_id
    from workflows.return_types import (
        ALREADY_DECIDED,
        APPROVED,
        DECIDE_REFUND,
        NOT_WAITING_FOR_DECISION,
        REFUND_APPROVAL_PATCH,
        DecideReturnInput,
        RefundDecided,
        RefundDecision,
        ReturnInput,
        ReturnRef,
        ReturnResult,
        return_workflow_id,
    )
    from workflows.types import NotifyInput, SalesOrderNames

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["ReturnNotFound", "OrderNotFound", "InvalidRequest"],
)
MAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["OrderNotFound", "InvalidRequest"],
)
# The signal a backordered SalesOrderWorkflow waits for when stock arrives.
STOCK_ARRIVED = SalesOrderNames.STOCK_ARRIVED
__all__ = ["ReturnWorkflow", "return_workflow_id"]  # the id stays importable from here too


def _refusal(message: str, refusal: str) -> ApplicationError:
    """An update validator's refusal: `type` for the callers, `message` for people."""
    return ApplicationError(message, type=refusal, non_retryable=True)


@workflow.defn
class ReturnWorkflow:
    """Processes a return whose goods arrived (the receipt is recorded before it starts).

    Steps: restock (or scrap) → wake backordered orders waiting for restocked SKUs → when the
    credit is above the approval amount, an accountant's approval task (rejected: the return ends
    with neither credit note nor refund) → credit note(s) at the invoiced prices and taxes →
    refund when the order was paid → mark received → e-mail the customer. Every activity is keyed
    by the RMA number, so retries and a second start change nothing. One handler, the update
    `decide_refund` (the accountant's outcome); no compensation: each step only adds what the
    return is owed.
    """

    def __init__(self) -> None:
        self._number = ""
        self._pending_task_id: int | None = None
        self._decided: RefundDecided | None = None

    @workflow.run
    async def run(self, request: ReturnInput) -> ReturnResult:
        self._number = request.return_number
        ref = ReturnRef(request.return_number)
        timeout = timedelta(seconds=request.activity_timeout_seconds)
        restock = await workflow.execute_activity_method(
            ReturnActivities.restock_return, ref, start_to_close_timeout=timeout, retry_policy=RETRY
        )
        for number in restock.waiting_orders:
            await self._wake(number)
        # Returns started before the approval step existed replay (and run on) without it.
        if workflow.patched(REFUND_APPROVAL_PATCH) and not await self._approved(ref, timeout):
            result = await self._complete(ref, timeout)
            await workflow.wait_condition(workflow.all_handlers_finished)
            return result
        await workflow.execute_activity_method(
            ReturnActivities.credit_return, ref, start_to_close_timeout=timeout, retry_policy=RETRY
        )
        await workflow.execute_activity_method(
            ReturnActivities.refund_return, ref, start_to_close_timeout=timeout, retry_policy=RETRY
        )
        result = await self._complete(ref, timeout)
        await self._notify(request, result, timeout)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    @workflow.update(name=DECIDE_REFUND)
    async def decide_refund(self, decision: RefundDecision) -> RefundDecided:
        """The accountant's outcome for the approval task: recorded, then the return resumes."""
        task_id = self._pending_task_id
        assert task_id is not None  # the validator let it through
        self._pending_task_id = None  # a second decision arriving meanwhile is refused
        try:
            decided = await workflow.execute_activity_method(
                ReturnActivities.decide_return,
                DecideReturnInput(self._number, decision),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RETRY,
            )
        except Exception:
            self._pending_task_id = task_id  # not recorded: the task still waits for a decision
            raise
        self._decided = decided
        return decided

    @decide_refund.validator
    def _validate_decide_refund(self, decision: RefundDecision) -> None:
        if self._decided is not None:
            raise _refusal("the refund is already decided", ALREADY_DECIDED)
        if self._pending_task_id is None or decision.task_id != self._pending_task_id:
            raise _refusal("the return is not waiting for this task", NOT_WAITING_FOR_DECISION)

    async def _approved(self, ref: ReturnRef, timeout: timedelta) -> bool:
        """Above the approval amount: wait for the accountant's task; False when rejected."""
        check = await workflow.execute_activity_method(
            ReturnActivities.request_refund_approval,
            ref,
            start_to_close_timeout=timeout,
            retry_policy=RETRY,
        )
        if check.task_id is None:
            return True
        self._pending_task_id = check.task_id
        await workflow.wait_condition(lambda: self._decided is not None)
        assert self._decided is not None
        return self._decided.outcome == APPROVED

    async def _complete(self, ref: ReturnRef, timeout: timedelta) -> ReturnResult:
        return await workflow.execute_activity_method(
            ReturnActivities.complete_return,
            ref,
            start_to_close_timeout=timeout,
            retry_policy=RETRY,
        )

    async def _wake(self, order_number: str) -> None:
        # Restocked goods may be what a backordered order waits for; an order that finished
        # meanwhile cannot take the signal, which is fine (its periodic recheck covers the rest).
        try:
            handle = workflow.get_external_workflow_handle(order_workflow_id(order_number))
            await handle.signal(STOCK_ARRIVED)
        except Exception:  # noqa: BLE001
            workflow.logger.info("order %s did not take the stock signal", order_number)

    async def _notify(self, request: ReturnInput, result: ReturnResult, timeout: timedelta) -> None:
        # The return is done; a mail that fails for good is logged, not allowed to fail it.
        try:
            await workflow.execute_activity_method(
                NotificationActivities.send_notification,
                NotifyInput(
                    key=f"return:{request.return_number}:received",
                    kind="return_received",
                    order_number=request.order_number,
                    extra={
                        "return_number": result.return_number,
                        "credit_notes": ", ".join(result.credit_notes),
                        "credit_total": f"{result.credit_total:.2f}",
                        "refund": f"{result.refund:.2f}",
                        "currency": result.currency,
                        "goods": "; ".join(result.goods),
                    },
                ),
                start_to_close_timeout=timeout,
                schedule_to_close_timeout=timedelta(days=3),
                retry_policy=MAIL_RETRY,
            )
        except Exception:  # noqa: BLE001
            workflow.logger.warning("return mail for %s not delivered", result.return_number)
