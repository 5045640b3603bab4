"""SalesOrderWorkflow: one durable workflow per order, from quote to collection."""

import asyncio
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.notification_activities import NotificationActivities
    from activities.order_activities import OrderActivities
    from activities.purchasing_activities import PurchasingActivities
    from activities.stock_activities import StockActivities
    from activities.task_activities import TaskActivities
    from core.temporal import order_workflow_id
    from workflows.search_attributes import ASSIGNEE, ORDER_STEP
    from workflows.types import (
        AmendOrderInput,
        AmendRequest,
        AmendResult,
        CancelRequest,
        CancelResult,
        CompleteTaskRequest,
        CompleteTaskResult,
        CreateTaskInput,
        EscalateTaskInput,
        InvoiceResult,
        KeyedOrderInput,
        NotifyInput,
        OrderPlan,
        OrderProgress,
        OrderRef,
        PlannedStep,
        PurchaseOrdersResult,
        QuoteVoided,
        RecordProgressInput,
        SalesOrderInput,
        SalesOrderResult,
        ShipmentInput,
        SiblingQuotes,
        SupplierShipped,
        TaskAssigned,
        TaskRef,
    )

# Amending lines is allowed until allocation commits stock.
AMENDABLE_IN = (None, "quote", "stock_check")
# Steps from which a cancel is refused: goods are packed or later.
NOT_CANCELLABLE_FROM = ("packing", "invoicing", "collection")
# Version 2 added e-mail notifications, SLA reminders/escalation and the Assignee search
# attribute. Histories recorded before it replay down the old path (tests/workflows/histories).
PATCH_NOTIFY_AND_SLA = "notifications-and-sla-v2"
# Version 3 sends payment reminders (dunning) on a schedule while collection waits.
PATCH_DUNNING = "dunning-v3"
# Version 4 mails quotes, reminds before they expire and voids sibling quotes on acceptance.
PATCH_QUOTES = "quotes-v4"
# Version 5 ships partially: what is in stock goes now, the rest follows in later shipments.
PATCH_PARTIAL = "partial-shipments-v5"
# The steps repeated for every shipment of a partially fulfilled order.
# Version 6 sends purchase orders for drop-ship lines and invoices once the suppliers shipped.
PATCH_DROP_SHIP = "drop-ship-v6"
# Version 7 tells the customer when the order is amended or cancelled.
PATCH_CHANGE_NOTICES = "change-notices-v7"
SHIPMENT_STEPS = ("stock_check", "allocation", "picking", "packing", "invoicing")
MAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["OrderNotFound", "InvalidRequest"],
)
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["OrderNotFound", "InvalidRequest"],
)


class _Cancelled(Exception):
    """Raised inside `run` when a cancel was accepted; unwinds to the compensation."""


@workflow.defn
class SalesOrderWorkflow:
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
        except _Cancelled:
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
            raise ApplicationError("task is already completed", type="TaskAlreadyCompleted")
        self._outcomes[request.task_id] = request
        await self._call(TaskActivities.record_task_completion, request)
        return CompleteTaskResult(task_id=request.task_id, outcome=request.outcome)

    @complete_task.validator
    def _validate_complete_task(self, request: CompleteTaskRequest) -> None:
        if request.task_id in self._outcomes:
            raise ValueError("task is already completed")
        if request.task_id != self._pending_task_id:
            raise ValueError("the order is not waiting for this task")

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
            raise ValueError(f"the order is already {self._status}")
        if self._step in NOT_CANCELLABLE_FROM:
            raise ValueError(f"the order cannot be cancelled once it reached {self._step}")
        if self._packed_any:
            raise ValueError("part of the order has shipped; it cannot be cancelled")

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
            raise ValueError(f"the order is already {self._status}")
        if self._step not in AMENDABLE_IN or self._stock_committed:
            raise ValueError(f"the order cannot be amended once it reached {self._step}")
        if not request.lines:
            raise ValueError("an order needs at least one line")

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

    async def _do_shipment_work(self, step: str) -> None:
        n = self._shipment
        if step == "stock_check":
            while True:  # some of it in stock (or nothing left for stock: drop-ship only)
                check = await self._call(StockActivities.check_stock, self._ref())
                if check.available or check.some_available:
                    break
                await self._wait_for_stock(check.shortages)
            await self._mark_open_again()
        elif step == "allocation":
            while True:
                result = await self._call(StockActivities.allocate_shipment, self._shipment_ref())
                if result.lines or result.remaining == 0:
                    break
                await self._wait_for_stock(result.shortages)
            self._stock_committed = True
            self._units_to_allocate = result.remaining
            if n == 1:
                await self._order_from_suppliers()
            await self._mark_open_again()
            later = f"; {result.remaining} units to follow" if result.remaining else ""
            await self._progress("allocated", f"shipment {n}: stock committed{later}", step=step)
        elif step == "packing":
            await self._call(StockActivities.pack_shipment, self._shipment_ref())
            self._packed_any = True
            await self._progress("packed", f"shipment {n} packed; on-hand deducted", step=step)
            self._notify("order_shipped", "shipped" if n == 1 else f"shipped:s{n}")
        elif step == "invoicing":
            if self._units_to_allocate == 0:
                await self._wait_for_suppliers()
            invoice = await self._call(
                OrderActivities.create_shipment_invoice,
                ShipmentInput(self._number(), n, last=self._units_to_allocate == 0),
            )
            await self._invoiced(invoice, f"shipment {n}: ")

    async def _order_from_suppliers(self) -> None:
        """Drop-ship lines: a purchase order per supplier, mailed to the supplier (v6)."""
        if not self._drop_ship or self._purchase_orders:
            return
        sent: PurchaseOrdersResult = await self._call(
            PurchasingActivities.create_purchase_orders, self._keyed("po")
        )
        self._purchase_orders = sent.numbers
        for number, supplier in zip(sent.numbers, sent.suppliers, strict=True):
            await self._progress("purchase_order", f"purchase order {number} sent to {supplier}")
            self._notify(
                "purchase_order",
                f"po:{number}",
                extra={"purchase_order_number": number, "supplier_email": supplier},
            )

    async def _wait_for_suppliers(self) -> None:
        """Drop-ship lines are invoiced once every supplier confirmed its shipment."""
        if not self._purchase_orders:
            return
        assert self._input is not None
        while True:
            seen = self._supplier_signals
            still_open = await self._call(
                PurchasingActivities.count_open_purchase_orders, self._ref()
            )
            if still_open == 0:
                break
            try:
                await workflow.wait_condition(
                    lambda seen=seen: self._supplier_signals > seen or self._cancel is not None,
                    timeout=timedelta(seconds=self._input.backorder_recheck_seconds),
                )
            except TimeoutError:
                pass  # periodic recheck: a lost signal never strands an order
            self._raise_if_cancelled()
        await self._progress("supplier_shipped", "the suppliers shipped the drop-ship lines")

    async def _invoiced(self, invoice: InvoiceResult, prefix: str = "") -> None:
        self._invoiced_at = workflow.now()
        await self._progress(
            "invoiced", f"{prefix}invoice {invoice.number} for {invoice.total}", step="invoicing"
        )
        self._notify(
            "invoice_issued",
            f"invoice:{invoice.number}",
            extra={"invoice_number": invoice.number, "invoice_total": str(invoice.total)},
        )

    async def _quote(self, planned: PlannedStep) -> None:
        """The order is a quote until accepted (task completed); unanswered, it expires.

        v4: the quote is mailed to the customer with its validity, a reminder goes out before it
        expires, and accepting it voids the other open quotes of the same opportunity.
        """
        assert self._input is not None
        validity = self._input.quote_validity_seconds
        self._status = "quote"
        await self._progress("quote_sent", "quote sent to the customer", status="quote")
        v4 = workflow.patched(PATCH_QUOTES)
        if v4:
            valid_until = workflow.now() + timedelta(seconds=validity)
            self._notify(
                "quote_sent", "quote:sent", extra={"valid_until": _display_time(valid_until)}
            )
            self._pending_reminders.append(
                asyncio.create_task(self._remind_before_quote_expiry(valid_until))
            )
        try:
            await self._human_task(planned, expires_after=validity)
        finally:
            self._quote_answered = True
        self._status = "open"
        await self._progress("quote_accepted", "quote accepted", status="open")
        if v4:
            self._notify("order_confirmation", "confirmation")
            await self._void_sibling_quotes()

    async def _remind_before_quote_expiry(self, valid_until: datetime) -> None:
        assert self._input is not None
        lead = self._input.quote_reminder_before_seconds
        validity = self._input.quote_validity_seconds
        # A quote shorter than the reminder lead is reminded half-way through.
        wait = validity - lead if lead < validity else validity / 2
        try:
            await workflow.wait_condition(
                lambda: self._quote_answered, timeout=timedelta(seconds=max(wait, 0.001))
            )
            return
        except TimeoutError:
            pass
        await self._progress(
            "quote_expiring", f"quote reminder: valid until {_display_time(valid_until)}"
        )
        self._notify(
            "quote_expiring", "quote:expiring", extra={"valid_until": _display_time(valid_until)}
        )

    async def _void_sibling_quotes(self) -> None:
        siblings: SiblingQuotes = await self._call(OrderActivities.find_sibling_quotes, self._ref())
        for number in siblings.order_numbers:
            try:
                await workflow.get_external_workflow_handle(order_workflow_id(number)).signal(
                    SalesOrderWorkflow.quote_voided, QuoteVoided(self._number())
                )
            except Exception:  # noqa: BLE001 - it finished meanwhile; nothing left to void
                workflow.logger.info("quote %s was already closed", number)
                continue
            await self._progress("quote_voided", f"quote {number} voided: this quote accepted")

    async def _check_credit(self) -> None:
        """Over the credit limit: a credit approval task; refused means cancelled."""
        result = await self._call(OrderActivities.check_credit, self._ref())
        if result.approved:
            return
        await self._progress("credit_hold", f"credit check: {result.reason}", step="allocation")
        await self._human_task(
            PlannedStep(step="allocation", mode="task", role="credit", assign="round_robin"),
            key_suffix="credit-approval",
        )

    async def _human_task(
        self, planned: PlannedStep, key_suffix: str = "task", expires_after: float | None = None
    ) -> None:
        """Create the step's task and wait for its outcome (or cancel, or expiry)."""
        assert planned.role, "a task step needs a role"
        created = workflow.now()
        task = await self._call(
            TaskActivities.create_task,
            CreateTaskInput(
                order_number=self._number(),
                key=f"{self._number()}:{planned.step}:{key_suffix}",
                step=planned.step,
                role=planned.role,
                assign=planned.assign,
                sla_seconds=planned.sla_seconds,
                fallback=planned.fallback,
            ),
        )
        self._pending_task_id = task.task_id
        who = f", assigned to {task.assignee_email}" if task.assignee_email else ", in the pool"
        await self._progress(
            "task_created", f"task {task.task_id} for role {planned.role}{who}", step=planned.step
        )
        self._set_assignee(task.assignee_email)
        self._notify("task_assigned", f"task:{task.task_id}:assigned", task_id=task.task_id)
        if self._v2:
            await self._await_task_with_sla(task, planned)
        timeout = None
        if expires_after is not None:
            elapsed = (workflow.now() - created).total_seconds()
            timeout = timedelta(seconds=max(expires_after - elapsed, 0.001))
        try:
            await workflow.wait_condition(
                lambda: task.task_id in self._outcomes or self._cancel is not None,
                timeout=timeout,
            )
        except TimeoutError:
            self._cancel = CancelRequest(reason=f"{planned.step} expired unanswered")
        self._pending_task_id = None
        self._set_assignee(None)
        self._raise_if_cancelled()
        outcome = self._outcomes[task.task_id]
        await self._progress(
            "task_completed",
            f"task {task.task_id}: {outcome.outcome}"
            + (f" ({outcome.note})" if outcome.note else ""),
            step=planned.step,
            actor=outcome.actor,
        )
        if outcome.outcome == "rejected":
            self._cancel = CancelRequest(reason=f"{planned.step} rejected", actor=outcome.actor)
            self._raise_if_cancelled()

    async def _await_task_with_sla(self, task: TaskRef, planned: PlannedStep) -> None:
        """Durable SLA timers: remind the assignee, then reassign or escalate, as the rule says."""
        started = workflow.now()

        async def done_within(seconds: float) -> bool:
            remaining = seconds - (workflow.now() - started).total_seconds()
            try:
                await workflow.wait_condition(
                    lambda: task.task_id in self._outcomes or self._cancel is not None,
                    timeout=timedelta(seconds=max(remaining, 0.001)),
                )
                return True
            except TimeoutError:
                return False

        if planned.remind_after_seconds and not await done_within(planned.remind_after_seconds):
            await self._escalate(task.task_id, "remind", None, planned.step)
        if (
            planned.escalate_after_seconds
            and planned.escalation_action
            and not await done_within(planned.escalate_after_seconds)
        ):
            await self._escalate(
                task.task_id, planned.escalation_action, planned.escalation_role, planned.step
            )

    async def _escalate(self, task_id: int, action: str, to_role: str | None, step: str) -> None:
        result = await self._call(
            TaskActivities.escalate_task,
            EscalateTaskInput(task_id=task_id, action=action, to_role=to_role),
        )
        if result.action == "none":
            return
        kind = "sla_reminder" if action == "remind" else "escalated"
        await self._progress(kind, f"task {task_id}: {result.message}", step=step)
        if action == "remind":
            self._notify("task_reminder", f"task:{task_id}:reminder", task_id=task_id)
        else:
            self._set_assignee(result.assignee_email)
            self._notify(
                "task_escalated",
                f"task:{task_id}:escalated",
                task_id=task_id,
                to_role=to_role if action == "escalate" else None,
            )

    async def _wait_until_stock_available(self) -> None:
        while True:
            check = await self._call(StockActivities.check_stock, self._ref())
            if check.available:
                break
            await self._wait_for_stock(check.shortages)
        await self._mark_open_again()

    async def _allocate(self) -> None:
        while True:
            result = await self._call(StockActivities.allocate_stock, self._keyed("commit"))
            if result.committed:
                self._stock_committed = True
                break
            await self._wait_for_stock(result.shortages)
        await self._mark_open_again()
        await self._progress("allocated", "stock committed", step="allocation")

    async def _wait_for_stock(self, shortages: list[str]) -> None:
        if self._status != "backordered":
            self._status = "backordered"
            await self._progress(
                "backordered", "waiting for stock: " + ", ".join(shortages), status="backordered"
            )
        seen = self._stock_signals
        assert self._input is not None
        try:
            await workflow.wait_condition(
                lambda: self._stock_signals > seen or self._cancel is not None,
                timeout=timedelta(seconds=self._input.backorder_recheck_seconds),
            )
        except TimeoutError:
            pass  # periodic recheck: a lost signal never strands an order
        self._raise_if_cancelled()

    async def _mark_open_again(self) -> None:
        if self._status == "backordered":
            self._status = "open"
            await self._progress("stock_available", "stock available again", status="open")

    async def _collect(self, plan: OrderPlan) -> None:
        if plan.prepaid:
            await self._call(OrderActivities.record_prepayment, self._keyed("prepayment"))
        assert self._input is not None
        while True:
            seen = self._payment_signals
            status = await self._call(OrderActivities.check_payment, self._ref())
            if status.settled:
                over = status.paid - status.invoiced
                extra = f"; overpaid by {over}, a credit for the customer" if over > 0 else ""
                await self._progress("paid", f"paid {status.paid} of {status.invoiced}{extra}")
                self._notify("payment_received", "paid", extra={"amount": str(status.paid)})
                return
            wait = self._input.backorder_recheck_seconds
            reminder_due = self._next_reminder_in()
            if reminder_due is not None:
                wait = min(wait, reminder_due)
            try:
                await workflow.wait_condition(
                    lambda seen=seen: self._payment_signals > seen,
                    timeout=timedelta(seconds=max(wait, 0.001)),
                )
            except TimeoutError:
                pass
            if self._next_reminder_in() == 0:
                await self._send_payment_reminder(status.invoiced - status.paid)

    def _next_reminder_in(self) -> float | None:
        """Seconds until the next payment reminder is due (0: now), None when none is left."""
        assert self._input is not None
        schedule = self._input.dunning_schedule_seconds
        if self._invoiced_at is None or self._reminders_sent >= len(schedule):
            return None
        if not workflow.patched(PATCH_DUNNING):
            return None
        since_invoice = (workflow.now() - self._invoiced_at).total_seconds()
        return max(schedule[self._reminders_sent] - since_invoice, 0.0)

    async def _send_payment_reminder(self, amount_due: Decimal) -> None:
        self._reminders_sent += 1
        n = self._reminders_sent
        await self._progress(
            "payment_reminder", f"payment reminder {n}: {amount_due} still due", step="collection"
        )
        self._notify(
            "payment_overdue",
            f"dunning:{n}",
            extra={"amount_due": str(amount_due), "reminder": str(n)},
        )

    # ---- compensation ------------------------------------------------------------------------

    def _raise_if_cancelled(self) -> None:
        if self._cancel is not None:
            raise _Cancelled()

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

    def _notify(
        self,
        kind: str,
        suffix: str,
        *,
        task_id: int | None = None,
        to_role: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        """Send an e-mail without blocking the order; retried with backoff until delivered."""
        if not self._v2:
            return
        assert self._input is not None
        self._mail.append(
            workflow.start_activity_method(
                NotificationActivities.send_notification,
                NotifyInput(
                    key=f"{self._number()}:{suffix}",
                    kind=kind,
                    order_number=self._number(),
                    task_id=task_id,
                    to_role=to_role,
                    extra=extra or {},
                ),
                start_to_close_timeout=timedelta(seconds=self._input.activity_timeout_seconds),
                schedule_to_close_timeout=timedelta(days=3),
                retry_policy=MAIL_RETRY,
            )
        )

    async def _mail_delivered(self) -> None:
        # The order is done; its e-mails still count, so the run waits for them (a mail that
        # fails for good is logged, not allowed to fail the order).
        for handle in self._mail:
            try:
                await handle
            except Exception:  # noqa: BLE001
                workflow.logger.warning("a notification for %s was not delivered", self._number())

    def _set_assignee(self, email: str | None) -> None:
        if not self._v2:
            return
        if email:
            workflow.upsert_search_attributes([ASSIGNEE.value_set(email)])
        else:
            workflow.upsert_search_attributes([ASSIGNEE.value_unset()])

    # ---- plumbing ----------------------------------------------------------------------------

    def _number(self) -> str:
        assert self._input is not None
        return self._input.order_number

    def _ref(self) -> OrderRef:
        return OrderRef(self._number())

    def _shipment_ref(self) -> ShipmentInput:
        return ShipmentInput(self._number(), self._shipment)

    def _keyed(self, what: str) -> KeyedOrderInput:
        return KeyedOrderInput(order_number=self._number(), key=f"{self._number()}:{what}")

    async def _progress(
        self,
        kind: str,
        message: str,
        *,
        step: str | None = None,
        status: str | None = None,
        current: str | None = None,
        clear: bool = False,
        actor: str = "system",
    ) -> None:
        # The key is derived from workflow state, so a retried activity writes the event once.
        self._events += 1
        await self._call(
            OrderActivities.record_progress,
            RecordProgressInput(
                order_number=self._number(),
                key=f"{self._number()}:event:{self._events}",
                kind=kind,
                message=message,
                step=step or self._step,
                status=status,
                current_step=current,
                clear_step=clear,
                actor=actor,
            ),
        )

    async def _call(self, activity_fn: Any, arg: Any) -> Any:
        assert self._input is not None
        return await workflow.execute_activity_method(
            activity_fn,
            arg,
            start_to_close_timeout=timedelta(seconds=self._input.activity_timeout_seconds),
            retry_policy=RETRY,
        )


def _display_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
