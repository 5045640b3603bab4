"""SalesOrderWorkflow: one durable workflow per order, from quote to collection."""

import asyncio
from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.order_activities import OrderActivities
    from activities.purchasing_activities import PurchasingActivities
    from activities.stock_activities import StockActivities
    from activities.task_activities import TaskActivities
    from conveyor.core.search_attributes import ORDER_STEP
    from conveyor.order.policy import Refusal, can_amend, can_cancel
    from workflows.types import (
        AmendOrderInput,
        AmendRequest,
        AmendResult,
        CancelRequest,
        CancelResult,
        CompleteTaskRequest,
        CompleteTaskResult,
        OrderPlan,
        OrderProgress,
        OrderRef,
        PlannedStep,
        QuoteVoided,
        SalesOrderInput,
        SalesOrderResult,
        ShipmentDelivered,
        SupplierShipped,
        TaskAssigned,
    )

# Workflow code: imported normally, so the sandbox checks it too.
from workflows.v7.order_goods import OrderGoods
from workflows.v7.order_people import OrderPeople
from workflows.v7.order_plumbing import Cancelled
from workflows.v7.versions import (
    PATCH_CHANGE_NOTICES,
    PATCH_DROP_SHIP,
    PATCH_NOTIFY_AND_SLA,
    PATCH_PARTIAL,
    PATCH_QUOTES,
)

# The steps repeated for every shipment of a partially fulfilled order.
SHIPMENT_STEPS = ("stock_check", "allocation", "picking", "packing", "invoicing")


def _refusal(message: str, refusal: str) -> ApplicationError:
    """An update validator's refusal: `type` for the callers, `message` for people."""
    return ApplicationError(message, type=refusal, non_retryable=True)


@workflow.defn
class SalesOrderWorkflow(OrderPeople, OrderGoods):
    """Runs an order through its seven steps, quote to collection.

    Each step is `auto`, `task` (a person completes a task) or `skip`, as the step plan from the
    routing rules says. Backordered orders wait durably for `stock_arrived`; collection waits for
    `payment_recorded`. Handlers: update `complete_task`, update `cancel` (refused from packing
    on), signals `stock_arrived` and `payment_recorded`, query `progress`.
    Orders that allow partial fulfilment (v5) run stock check to invoicing once per shipment:
    what is in stock ships and is invoiced now, the rest waits as a backorder.
    Drop-ship lines (v6) become purchase orders to their suppliers at allocation; invoicing waits
    for `supplier_shipped`. Cancelling cancels the open purchase orders.
    While collection waits, payment reminders go out on the dunning schedule (v3).
    Quotes (v4) are mailed, reminded before expiry, and void their siblings when accepted
    (signal `quote_voided`).
    Compensation on cancel: committed stock is released and open tasks are cancelled.
    """

    def __init__(self) -> None:
        self._input: SalesOrderInput | None = None
        self._status = "open"
        self._step: str | None = None
        self._cancel: CancelRequest | None = None
        self._pending_task_id: int | None = None
        self._outcomes: dict[int, CompleteTaskRequest] = {}
        self._stock_signals = 0
        self._payment_signals = 0
        self._stock_committed = False
        self._finished = False
        self._events = 0
        self._v2 = False
        self._mail: list[workflow.ActivityHandle] = []
        self._assignment_changes = 0
        self._amendments = 0
        self._amending = 0
        self._invoiced_at: datetime | None = None
        self._reminders_sent = 0
        self._quote_answered = False
        self._pending_reminders: list[asyncio.Task] = []
        self._shipment = 0  # 0: the order ships in one go; 1, 2, ...: the shipment under way
        self._units_to_allocate = 0
        self._packed_any = False
        self._drop_ship = False
        self._purchase_orders: list[str] = []
        self._supplier_signals = 0

    # ---- entry point -------------------------------------------------------------------------

    @workflow.run
    async def run(self, order: SalesOrderInput) -> SalesOrderResult:
        self._input = order
        self._v2 = workflow.patched(PATCH_NOTIFY_AND_SLA)
        plan: OrderPlan = await self._call(OrderActivities.plan_order, OrderRef(order.order_number))
        self._drop_ship = plan.drop_ship and workflow.patched(PATCH_DROP_SHIP)
        quote_first = any(p.step == "quote" and p.mode == "task" for p in plan.steps)
        if not (quote_first and workflow.patched(PATCH_QUOTES)):
            self._notify("order_confirmation", "confirmation")  # a quote is confirmed on accept
        try:
            if plan.partial and workflow.patched(PATCH_PARTIAL):
                await self._run_in_shipments(plan)
            else:
                for planned in plan.steps:
                    self._raise_if_cancelled()
                    await self._run_step(planned, plan)
            await self._progress("completed", "order completed", status="completed", clear=True)
            self._status = "completed"
        except Cancelled:
            await self._compensate()
        self._finished = True
        self._step = None
        await asyncio.gather(*self._pending_reminders)
        await self._mail_delivered()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return SalesOrderResult(order_number=order.order_number, status=self._status)

    # ---- handlers ----------------------------------------------------------------------------

    @workflow.update
    async def complete_task(self, request: CompleteTaskRequest) -> CompleteTaskResult:
        """Record a person's outcome for the task the order is waiting on, and resume."""
        if request.task_id in self._outcomes:
            raise ApplicationError("task is already completed", type=Refusal.TASK_ALREADY_COMPLETED)
        self._outcomes[request.task_id] = request
        await self._call(TaskActivities.record_task_completion, request)
        return CompleteTaskResult(task_id=request.task_id, outcome=request.outcome)

    # The validators refuse with a typed ApplicationError (callers match its `type`, never the
    # message). A refused update is not written to the history, so refusals replay safely.

    @complete_task.validator
    def _validate_complete_task(self, request: CompleteTaskRequest) -> None:
        if request.task_id in self._outcomes:
            raise _refusal("task is already completed", Refusal.TASK_ALREADY_COMPLETED)
        if request.task_id != self._pending_task_id:
            # Not yet, perhaps: the task row commits a moment before the order waits for it.
            raise _refusal("the order is not waiting for this task", Refusal.NOT_WAITING_FOR_TASK)

    @workflow.update
    async def cancel(self, request: CancelRequest) -> CancelResult:
        """Cancel the order; returns once the compensation has run."""
        if self._cancel is None:
            self._cancel = request
        await workflow.wait_condition(lambda: self._finished)
        return CancelResult(status=self._status)

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        if self._finished:
            raise _refusal(f"the order is already {self._status}", Refusal.ORDER_FINISHED)
        if not can_cancel(self._step):
            raise _refusal(
                f"the order cannot be cancelled once it reached {self._step}",
                Refusal.NOT_CANCELLABLE,
            )
        if not can_cancel(self._step, packed_any=self._packed_any):
            raise _refusal(
                "part of the order has shipped; it cannot be cancelled", Refusal.NOT_CANCELLABLE
            )

    @workflow.update
    async def amend(self, request: AmendRequest) -> AmendResult:
        """Replace the order's lines; allowed until allocation starts."""
        self._amendments += 1
        n = self._amendments
        self._amending += 1  # allocation waits until the new lines are recorded
        try:
            result = await self._call(
                OrderActivities.amend_order,
                AmendOrderInput(
                    order_number=self._number(),
                    key=f"{self._number()}:amend:{n}",
                    lines=request.lines,
                    actor=request.actor,
                ),
            )
        finally:
            self._amending -= 1
        self._stock_signals += 1  # a waiting stock check looks again at the new lines
        if workflow.patched(PATCH_CHANGE_NOTICES):
            self._notify("order_amended", f"amended:{n}", extra={"summary": result.summary})
        return result

    @amend.validator
    def _validate_amend(self, request: AmendRequest) -> None:
        if self._finished or self._cancel is not None:
            raise _refusal(f"the order is already {self._status}", Refusal.ORDER_FINISHED)
        if not can_amend(self._step, stock_committed=self._stock_committed):
            raise _refusal(
                f"the order cannot be amended once it reached {self._step}", Refusal.NOT_AMENDABLE
            )
        if not request.lines:
            raise _refusal("an order needs at least one line", Refusal.INVALID_REQUEST)

    @workflow.signal
    def stock_arrived(self) -> None:
        """Stock was received for a SKU this order may wait for."""
        self._stock_signals += 1

    @workflow.signal
    async def task_assigned(self, change: TaskAssigned) -> None:
        """A task changed hands outside the workflow (clock-in/out, claim, reassign)."""
        self._assignment_changes += 1
        self._set_assignee(change.assignee_email)
        if change.assignee_id is not None:
            self._notify(
                "task_assigned",
                f"task:{change.task_id}:assigned:{self._assignment_changes}",
                task_id=change.task_id,
            )

    @workflow.signal
    def quote_voided(self, voided: QuoteVoided) -> None:
        """Another quote of the same opportunity was accepted: this one is void."""
        if self._status == "quote" and self._cancel is None:
            self._cancel = CancelRequest(
                reason=f"quote void: {voided.accepted_order_number} was accepted"
            )

    @workflow.signal
    def supplier_shipped(self, shipped: SupplierShipped) -> None:
        """A supplier confirmed shipping one of this order's purchase orders."""
        self._supplier_signals += 1

    @workflow.signal
    def shipment_delivered(self, event: ShipmentDelivered) -> None:
        """A shipment was delivered: nothing waits for it here (no delivery step before v9)."""

    @workflow.signal
    def payment_recorded(self) -> None:
        """A payment was recorded for this order."""
        self._payment_signals += 1

    @workflow.query
    def progress(self) -> OrderProgress:
        """Where the order is right now."""
        return OrderProgress(self._status, self._step, self._pending_task_id)

    # ---- steps -------------------------------------------------------------------------------

    async def _run_in_shipments(self, plan: OrderPlan) -> None:
        """Quote, then stock check to invoicing once per shipment until all is shipped, then
        collection (v5, orders that allow partial fulfilment)."""
        by_step = {planned.step: planned for planned in plan.steps}
        await self._run_step(by_step["quote"], plan)
        while True:
            self._shipment += 1
            for step in SHIPMENT_STEPS:
                self._raise_if_cancelled()
                await self._run_step(by_step[step], plan)
            if self._units_to_allocate == 0:
                break
        await self._run_step(by_step["collection"], plan)

    async def _run_step(self, planned: PlannedStep, plan: OrderPlan) -> None:
        step = planned.step
        if planned.mode == "skip":
            await self._progress("step_skipped", f"{step} skipped by rule {plan.rule}", step=step)
            return
        self._step = step
        if step == "allocation":  # allocate the lines as amended, never half-way through
            await workflow.wait_condition(lambda: self._amending == 0)
        workflow.upsert_search_attributes([ORDER_STEP.value_set(step)])
        await self._progress("step_started", f"{step} ({planned.mode})", step=step, current=step)
        if step == "picking":
            if self._shipment:
                result = await self._call(
                    StockActivities.create_shipment_pick_list, self._shipment_ref()
                )
            else:
                result = await self._call(StockActivities.create_pick_list, self._ref())
            await self._progress("pick_list", f"pick list with {result.lines} lines", step=step)
        if step == "allocation" and self._v2 and self._shipment <= 1:
            await self._check_credit()
        if step == "quote" and planned.mode == "task" and self._v2:
            await self._quote(planned)
        elif planned.mode == "task":
            suffix = "task" if self._shipment <= 1 else f"task:s{self._shipment}"
            await self._human_task(planned, key_suffix=suffix)
        await self._do_step_work(step, plan)
        await self._progress("step_completed", f"{step} done", step=step)

    async def _do_step_work(self, step: str, plan: OrderPlan) -> None:
        if self._shipment and step in SHIPMENT_STEPS:
            await self._do_shipment_work(step)
        elif step == "stock_check":
            await self._wait_until_stock_available()
        elif step == "allocation":
            await self._allocate()
            await self._order_from_suppliers()
        elif step == "packing":
            await self._call(StockActivities.pack_order, self._keyed("pack"))
            await self._progress("packed", "packed; on-hand deducted", step=step)
            self._notify("order_shipped", "shipped")
        elif step == "invoicing":
            await self._wait_for_suppliers()
            invoice = await self._call(OrderActivities.create_invoice, self._keyed("invoice"))
            await self._invoiced(invoice)
        elif step == "collection":
            await self._collect(plan)

    # ---- compensation ------------------------------------------------------------------------

    async def _compensate(self) -> None:
        assert self._cancel is not None
        if self._stock_committed:
            await self._call(StockActivities.release_stock, self._keyed("release"))
        await self._call(TaskActivities.cancel_open_tasks, self._ref())
        if self._purchase_orders:
            await self._call(PurchasingActivities.cancel_purchase_orders, self._ref())
        self._status = "cancelled"
        reason = f": {self._cancel.reason}" if self._cancel.reason else ""
        await self._progress(
            "cancelled",
            f"order cancelled{reason}",
            status="cancelled",
            clear=True,
            actor=self._cancel.actor,
        )
        if workflow.patched(PATCH_CHANGE_NOTICES):
            self._notify("order_cancelled", "cancelled", extra={"reason": self._cancel.reason})

    # ---- notifications -----------------------------------------------------------------------

    # ---- plumbing ----------------------------------------------------------------------------
