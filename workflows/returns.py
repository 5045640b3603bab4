"""ReturnWorkflow: one durable run per received return, from restock to the customer's e-mail."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.notification_activities import NotificationActivities
    from activities.return_activities import ReturnActivities
    from conveyor.core.temporal import order_workflow_id
    from workflows.return_types import ReturnInput, ReturnRef, ReturnResult, return_workflow_id
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


@workflow.defn
class ReturnWorkflow:
    """Processes a return whose goods arrived (the receipt is recorded before it starts).

    Steps: restock (or scrap) → wake backordered orders waiting for restocked SKUs → credit
    note(s) at the invoiced prices and taxes → refund when the order was paid → mark received →
    e-mail the customer. Every activity is keyed by the RMA number, so retries and a second start
    change nothing. No handlers and no compensation: each step only adds what the return is owed.
    """

    @workflow.run
    async def run(self, request: ReturnInput) -> ReturnResult:
        ref = ReturnRef(request.return_number)
        timeout = timedelta(seconds=request.activity_timeout_seconds)
        restock = await workflow.execute_activity_method(
            ReturnActivities.restock_return, ref, start_to_close_timeout=timeout, retry_policy=RETRY
        )
        for number in restock.waiting_orders:
            await self._wake(number)
        await workflow.execute_activity_method(
            ReturnActivities.credit_return, ref, start_to_close_timeout=timeout, retry_policy=RETRY
        )
        await workflow.execute_activity_method(
            ReturnActivities.refund_return, ref, start_to_close_timeout=timeout, retry_policy=RETRY
        )
        result = await workflow.execute_activity_method(
            ReturnActivities.complete_return,
            ref,
            start_to_close_timeout=timeout,
            retry_policy=RETRY,
        )
        await self._notify(request, result, timeout)
        return result

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
