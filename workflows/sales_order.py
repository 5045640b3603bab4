"""SalesOrder: one durable workflow per order, quote to collection, in a few activities."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import TypedDict, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.order_steps import OrderStepActivities
    from conveyor.core.search_attributes import ASSIGNEE, ORDER_STEP
    from conveyor.core.temporal import order_workflow_id
    from conveyor.order.enums import OrderStatus, Step
    from conveyor.order.policy import Refusal, can_amend, can_cancel
    from workflows.order_state import (
        GOODS_STEPS,
        Mode,
        OrderState,
        SalesOrderRunInput,
        display_time,
        next_reminder_in,
        quote_reminder_at,
    )
    from workflows.types import (
        AllocateStepInput,
        AmendLinesInput,
        AmendRequest,
        AmendResult,
        BeginOrderInput,
        CancelRequest,
        CancelResult,
        CollectStepInput,
        CompensateOrderInput,
        CompleteTaskRequest,
        CompleteTaskResult,
        DeliveryRef,
        DeliveryStepInput,
        EscalateOrderTaskInput,
        InvoiceStepInput,
        OrderProgress,
        OrderRef,
        OrderStepInput,
        OrderTaskInput,
        PackStepInput,
        PaymentReminderInput,
        PlannedStep,
        QuoteReminderInput,
        QuoteVoided,
        SalesOrderNames,
        SalesOrderResult,
        ServiceStepInput,
        ShipmentDelivered,
        ShipmentRef,
        SupplierShipped,
        TaskAssigned,
        TaskMailInput,
        TaskOutcomeInput,
        TaskRef,
        TrailEntry,
    )

In = TypeVar("In")
Out = TypeVar("Out")
StepWork = Callable[[PlannedStep], Awaitable[None]]

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["OrderNotFound", "InvalidRequest"],
)
PEEK_TIMEOUT = timedelta(seconds=10)
CREDIT_APPROVAL = PlannedStep(
    step=Step.ALLOCATION, mode=Mode.TASK, role="credit", assign="round_robin"
)
# A failed shipment (returned to sender, lost): the order desk follows it up.
FAILED_DELIVERY = PlannedStep(step=Step.DELIVERY, mode=Mode.TASK, role="order_desk")
# v9: after the shipments, the order waits until every one is delivered (`delivery` step).
DELIVERY_STAGE = "delivery-stage"
# A shipment not delivered within the rule's delivery SLA (`delivery: {mode: auto, sla: 5d}`)
# is late: the order desk gets a task to chase the carrier, once per shipment.
LATE_DELIVERY = PlannedStep(step=Step.DELIVERY, mode=Mode.TASK, role="order_desk")
DELIVERY_SLA = "delivery-sla"
# v11: an order with service lines waits at the `service` step, before its (last) invoice, until
# the service is confirmed delivered; an order of services only skips the goods steps.
SERVICE_LINES = "service-lines"


class StepFields(TypedDict):
    """What every step activity's input starts with (`OrderStepInput`)."""

    order_number: str
    key: str
    trail: list[TrailEntry]
    shipment: int


class Cancelled(Exception):
    """Raised inside `run` when a cancel was accepted; unwinds to the compensation."""


def _refusal(message: str, refusal: str) -> ApplicationError:
    """An update validator's refusal: `type` for the callers, `message` for people."""
    return ApplicationError(message, type=refusal, non_retryable=True)


@workflow.defn(name="SalesOrder")
class SalesOrderWorkflow:
    """Runs an order quote → (per shipment: stock check, allocation, picking, packing,
    invoicing) → delivery → collection; an order without partial fulfilment is one shipment.

    Each step is `auto`, `task` (a person completes a task, with SLA reminder and escalation)
    or `skip`, as the routing plan says; `_step` does those chores, the trail, the `OrderStep`
    search attribute and the cancel check. A quote-first order waits as a quote until accepted
    (reminded before, cancelled at expiry) and voids its sibling quotes. Over its credit limit,
    allocation waits for a credit approval task. Drop-ship lines become purchase orders;
    invoicing waits for the suppliers. Delivery (v9) waits until every shipment is delivered
    (a carrier event, staff, the customer; a task: the own fleet's delivery); a failed shipment
    gives the order desk a task. Service lines (v11) are never stocked, picked or packed: before
    the (last) invoice the order waits at `service` until the service is confirmed delivered
    (the step's task, or staff: the `service_delivered` signal); an order of services only
    skips stock check to packing and delivery. Collection waits for payment and sends
    reminders on the dunning schedule.
    Each business activity writes its trail and mail (outbox rows) with its effect; the
    workflow's own trail entries ride along with the next activity. Long waits (stock, supplier,
    payment) wake on signals, recheck rarely through a local activity, and continue-as-new with
    the `OrderState` when the history grows long.
    Handlers: updates `complete_task`, `cancel` (refused from packing on), `amend` (until
    allocation); signals `stock_arrived`, `task_assigned`, `quote_voided`, `supplier_shipped`,
    `shipment_delivered`, `service_delivered`, `payment_recorded`; query `progress`.
    Compensation on cancel: release committed stock, cancel open tasks and purchase orders,
    mark the order cancelled and tell the customer.
    """

    @workflow.init
    def __init__(self, order: SalesOrderRunInput) -> None:
        self._input = order
        self.state = order.state or OrderState(number=order.order_number)
        self._amending = 0  # amendments under way (none at a continue-as-new: handlers drained)
        self._reminders: list[asyncio.Task[None]] = []

    # ---- entry point -------------------------------------------------------------------------

    @workflow.run
    async def run(self, order: SalesOrderRunInput) -> SalesOrderResult:
        s = self.state
        try:
            if s.plan is None:
                await self._begin()
            await self._step(
                Step.QUOTE,
                self._accept_quote,
                first=self._offer_quote,
                expires_after=order.quote_validity_seconds,
            )
            while True:
                await self._step(Step.STOCK_CHECK, self._stock_check)
                await self._step(Step.ALLOCATION, self._allocation, first=self._credit_check)
                await self._step(Step.PICKING, first=self._pick)
                await self._step(Step.PACKING, self._pack)
                if s.last_shipment() and self._serves():
                    await self._step(Step.SERVICE, self._service)
                await self._step(Step.INVOICING, self._invoice)
                if not s.more_to_ship():
                    break
                s.shipment += 1
            if workflow.patched(DELIVERY_STAGE):
                await self._step(Step.DELIVERY, self._delivery)
            await self._step(Step.COLLECTION, self._collection)
            if s.status != OrderStatus.COMPLETED:  # collection skipped
                self._note("completed", "order completed", status=OrderStatus.COMPLETED, clear=True)
                s.status = OrderStatus.COMPLETED
                await self._act(OrderStepActivities.write_order_trail, self._step_input())
        except Cancelled:
            await self._compensate()
        s.finished = True
        s.step = None
        await asyncio.gather(*self._reminders)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return SalesOrderResult(order_number=s.number, status=s.status)

    # ---- handlers ----------------------------------------------------------------------------

    @workflow.update
    async def complete_task(self, request: CompleteTaskRequest) -> CompleteTaskResult:
        """Record a person's outcome for the task the order is waiting on, and resume."""
        s = self.state
        if request.task_id in s.outcomes:
            raise ApplicationError("task is already completed", type=Refusal.TASK_ALREADY_COMPLETED)
        s.outcomes[request.task_id] = request
        try:
            await self._act(
                OrderStepActivities.complete_order_task,
                TaskOutcomeInput(
                    order_number=s.number,
                    task_id=request.task_id,
                    outcome=request.outcome,
                    note=request.note,
                    actor=request.actor,
                    step=s.step,
                ),
            )
        except ActivityError:
            del s.outcomes[request.task_id]  # not stored: the task still waits for an outcome
            raise
        s.recorded_tasks.append(request.task_id)
        return CompleteTaskResult(task_id=request.task_id, outcome=request.outcome)

    # The validators refuse with a typed ApplicationError (callers match its `type`, never the
    # message). A refused update is not written to the history, so refusals replay safely.

    @complete_task.validator
    def _validate_complete_task(self, request: CompleteTaskRequest) -> None:
        if request.task_id in self.state.outcomes:
            raise _refusal("task is already completed", Refusal.TASK_ALREADY_COMPLETED)
        if request.task_id != self.state.pending_task_id:
            # Not yet, perhaps: the task row commits a moment before the order waits for it.
            raise _refusal("the order is not waiting for this task", Refusal.NOT_WAITING_FOR_TASK)

    @workflow.update
    async def cancel(self, request: CancelRequest) -> CancelResult:
        """Cancel the order; returns once the compensation has run."""
        if self.state.cancel is None:
            self.state.cancel = request
        await workflow.wait_condition(lambda: self.state.finished)
        return CancelResult(status=self.state.status)

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        s = self.state
        if s.finished:
            raise _refusal(f"the order is already {s.status}", Refusal.ORDER_FINISHED)
        if not can_cancel(s.step):
            raise _refusal(
                f"the order cannot be cancelled once it reached {s.step}",
                Refusal.NOT_CANCELLABLE,
            )
        if not can_cancel(s.step, packed_any=s.packed_any):
            raise _refusal(
                "part of the order has shipped; it cannot be cancelled", Refusal.NOT_CANCELLABLE
            )

    @workflow.update
    async def amend(self, request: AmendRequest) -> AmendResult:
        """Replace the order's lines; allowed until allocation starts."""
        s = self.state
        s.amendments += 1
        n = s.amendments
        self._amending += 1  # allocation waits until the new lines are recorded
        try:
            result = await self._act(
                OrderStepActivities.amend_order_lines,
                AmendLinesInput(
                    order_number=s.number,
                    key=f"{s.number}:amend:{n}",
                    mail_key=f"{s.number}:amended:{n}",
                    lines=request.lines,
                    actor=request.actor,
                ),
            )
        finally:
            self._amending -= 1
        s.services, s.service_only = result.services, result.service_only
        s.stock_signals += 1  # a waiting stock check looks again at the new lines
        return result

    @amend.validator
    def _validate_amend(self, request: AmendRequest) -> None:
        s = self.state
        if s.finished or s.cancel is not None:
            raise _refusal(f"the order is already {s.status}", Refusal.ORDER_FINISHED)
        if not can_amend(s.step, stock_committed=s.stock_committed):
            raise _refusal(
                f"the order cannot be amended once it reached {s.step}", Refusal.NOT_AMENDABLE
            )
        if not request.lines:
            raise _refusal("an order needs at least one line", Refusal.INVALID_REQUEST)

    @workflow.signal
    def stock_arrived(self) -> None:
        """Stock was received for a SKU this order may wait for."""
        self.state.stock_signals += 1

    @workflow.signal
    async def task_assigned(self, change: TaskAssigned) -> None:
        """A task changed hands outside the workflow (clock-in/out, claim, reassign)."""
        s = self.state
        s.assignment_changes += 1
        n = s.assignment_changes
        self._set_assignee(change.assignee_email)
        if change.assignee_id is not None and change.notify:
            await self._act(
                OrderStepActivities.notify_task_assignee,
                TaskMailInput(
                    order_number=s.number,
                    key=f"{s.number}:task:{change.task_id}:assigned:{n}",
                    task_id=change.task_id,
                ),
            )

    @workflow.signal
    def quote_voided(self, voided: QuoteVoided) -> None:
        """Another quote of the same opportunity was accepted: this one is void."""
        s = self.state
        if s.status == OrderStatus.QUOTE and s.cancel is None:
            s.cancel = CancelRequest(
                reason=f"quote void: {voided.accepted_order_number} was accepted"
            )

    @workflow.signal
    def supplier_shipped(self, shipped: SupplierShipped) -> None:
        """A supplier confirmed shipping one of this order's purchase orders."""
        self.state.supplier_signals += 1

    @workflow.signal
    def shipment_delivered(self, event: ShipmentDelivered) -> None:
        """One of the order's shipments was delivered, or failed."""
        self.state.delivery_signals += 1

    @workflow.signal
    def service_delivered(self) -> None:
        """Staff confirmed the order's service delivered (recorded on the order first)."""
        self.state.service_signals += 1

    @workflow.signal
    def payment_recorded(self) -> None:
        """A payment was recorded for this order."""
        self.state.payment_signals += 1

    @workflow.query
    def progress(self) -> OrderProgress:
        """Where the order is right now."""
        s = self.state
        return OrderProgress(s.status, s.step, s.pending_task_id)

    # ---- the step wrapper --------------------------------------------------------------------

    async def _step(
        self,
        step: Step,
        work: StepWork | None = None,
        *,
        first: StepWork | None = None,
        expires_after: float | None = None,
    ) -> None:
        """Run one step as planned: skipped, or started (search attribute, trail), `first`, the
        person's task when it is a task, then `work`, then completed.

        A run continued-as-new inside `work` comes back here and goes straight on with `work`.
        """
        s = self.state
        key = s.step_key(step)
        if key in s.done:
            return
        planned = s.route(step)
        assert s.plan is not None
        if step in GOODS_STEPS and s.service_only and self._serves():
            self._note("step_skipped", f"{step} skipped: services only, no goods", step=step)
            s.done.append(key)
            return
        if planned.mode == Mode.SKIP:
            self._note("step_skipped", f"{step} skipped by rule {s.plan.rule}", step=step)
            s.done.append(key)
            return
        if s.working_on != key:
            self._raise_if_cancelled()
            s.step = step
            if step == Step.ALLOCATION:  # allocate the lines as amended, never half-way through
                await workflow.wait_condition(lambda: self._amending == 0)
            workflow.upsert_search_attributes([ORDER_STEP.value_set(step)])
            self._note("step_started", f"{step} ({planned.mode})", step=step, current=step)
            if first is not None:
                await first(planned)
            if planned.mode == Mode.TASK:
                await self._task(planned, s.task_suffix(), expires_after=expires_after)
            s.working_on = key
        if work is not None:
            await work(planned)
        if s.status != OrderStatus.COMPLETED:  # collection writes its completion with the order's
            self._note("step_completed", f"{step} done", step=step)
        s.done.append(key)
        s.working_on = None

    # ---- steps -------------------------------------------------------------------------------

    async def _begin(self) -> None:
        """Plan the order and tell the customer (the confirmation, or the quote)."""
        s = self.state
        s.quote_sent_at = workflow.now()
        valid_until = s.quote_sent_at + timedelta(seconds=self._input.quote_validity_seconds)
        begun = await self._act(
            OrderStepActivities.begin_order,
            BeginOrderInput(
                order_number=s.number,
                key=s.next_key(),
                trail=self._take_trail(),
                quote_valid_until=display_time(valid_until),
            ),
        )
        s.plan = begun.plan
        s.services, s.service_only = begun.plan.services, begun.plan.service_only
        s.shipment = 1 if begun.plan.partial else 0
        if begun.quote_first:
            s.status = OrderStatus.QUOTE

    async def _offer_quote(self, planned: PlannedStep) -> None:
        """A quote waits for its answer; a reminder goes out before it expires."""
        if planned.mode == Mode.TASK:
            self._reminders.append(asyncio.create_task(self._remind_before_quote_expiry()))

    async def _remind_before_quote_expiry(self) -> None:
        s = self.state
        assert s.quote_sent_at is not None
        validity = self._input.quote_validity_seconds
        remind_at = quote_reminder_at(
            s.quote_sent_at, validity, self._input.quote_reminder_before_seconds
        )
        wait = (remind_at - workflow.now()).total_seconds()
        try:
            await workflow.wait_condition(
                lambda: s.quote_answered or s.cancel is not None,
                timeout=timedelta(seconds=max(wait, 0.001)),
            )
            return
        except TimeoutError:
            pass
        valid_until = s.quote_sent_at + timedelta(seconds=validity)
        await self._act(
            OrderStepActivities.remind_order_quote,
            QuoteReminderInput(
                order_number=s.number,
                key=f"{s.number}:trail:quote_expiring",
                valid_until=display_time(valid_until),
            ),
        )

    async def _accept_quote(self, planned: PlannedStep) -> None:
        """The accepted quote is the order now; its sibling quotes are void."""
        if planned.mode != Mode.TASK:
            return
        s = self.state
        s.quote_answered = True
        s.status = OrderStatus.OPEN
        siblings = await self._act(OrderStepActivities.accept_order_quote, self._step_input())
        for number in siblings.order_numbers:
            try:
                await workflow.get_external_workflow_handle(order_workflow_id(number)).signal(
                    SalesOrderNames.QUOTE_VOIDED, QuoteVoided(s.number)
                )
            except Exception:  # noqa: BLE001 - it finished meanwhile; nothing left to void
                workflow.logger.info("quote %s was already closed", number)
                continue
            self._note("quote_voided", f"quote {number} voided: this quote accepted")

    async def _stock_check(self, planned: PlannedStep) -> None:
        """Wait until the order's goods (a partial order: some of them) are in stock."""
        s = self.state
        while True:
            seen = s.stock_signals  # before the check: a receipt during it still wakes the wait
            check = await self._act(OrderStepActivities.check_order_stock, self._step_input())
            s.status = OrderStatus(check.status)
            if check.ready:
                return
            await self._await_stock(seen)

    async def _credit_check(self, planned: PlannedStep) -> None:
        """Over the credit limit: a credit approval task first; refused means cancelled.

        Prepaid orders carry no credit risk (receivables.check_credit approves them too).
        """
        s = self.state
        assert s.plan is not None
        if s.plan.prepaid or s.credit_checked or s.shipment > 1:
            return
        credit = await self._act(OrderStepActivities.check_order_credit, self._step_input())
        s.credit_checked = True
        if not credit.approved:
            await self._task(CREDIT_APPROVAL, "credit-approval")

    async def _allocation(self, planned: PlannedStep) -> None:
        """Commit the stock (a partial order: what is there), then order the drop-ship lines."""
        s = self.state
        assert s.plan is not None
        while True:
            seen = s.stock_signals
            allocated = await self._act(
                OrderStepActivities.allocate_order_stock,
                AllocateStepInput(
                    **self._step_fields(),
                    order_from_suppliers=(
                        s.plan.drop_ship and not s.purchase_orders and s.shipment <= 1
                    ),
                ),
            )
            s.status = OrderStatus(allocated.status)
            if allocated.committed:
                break
            await self._await_stock(seen)
        s.stock_committed = True
        s.units_to_allocate = allocated.remaining
        s.purchase_orders = allocated.purchase_orders or s.purchase_orders

    async def _pick(self, planned: PlannedStep) -> None:
        """The pick list first: the warehouse's task picks from it."""
        await self._act(OrderStepActivities.pick_order, self._step_input())

    async def _pack(self, planned: PlannedStep) -> None:
        """Packed is shipped; with the delivery step skipped (a counter sale), delivered too."""
        at_once = self.state.route(Step.DELIVERY).mode == Mode.SKIP
        await self._act(
            OrderStepActivities.pack_order_shipment,
            PackStepInput(**self._step_fields(), delivered_at_once=at_once),
        )
        self.state.packed_any = True

    async def _invoice(self, planned: PlannedStep) -> None:
        """Invoice the order (or the shipment); drop-ship lines once the suppliers shipped."""
        s = self.state
        last = s.last_shipment()
        while True:
            seen = s.supplier_signals
            invoice = await self._act(
                OrderStepActivities.invoice_order_shipment,
                InvoiceStepInput(
                    **self._step_fields(),
                    last=last,
                    wait_for_suppliers=bool(s.purchase_orders) and (s.shipment == 0 or last),
                ),
            )
            if invoice.invoiced:
                break
            await self._await_suppliers(seen)
        s.invoiced_at = workflow.now()

    async def _service(self, planned: PlannedStep) -> None:
        """Until the service lines are confirmed delivered: as a task, the person's done is the
        confirmation; else staff confirm it on the order page or the API (a signal)."""
        s = self.state
        confirm = planned.mode == Mode.TASK
        actor = s.outcomes[s.recorded_tasks[-1]].actor if confirm and s.recorded_tasks else None
        while True:
            seen = s.service_signals
            status = await self._act(
                OrderStepActivities.check_order_service,
                ServiceStepInput(**self._step_fields(), confirm=confirm, actor=actor or "system"),
            )
            confirm = False
            if status.delivered:
                return
            await self._await_service(seen)

    async def _delivery(self, planned: PlannedStep) -> None:
        """Until every shipment is delivered; a failed one gets the order desk's task first.

        As a task (own fleet), the person's done means every shipment in transit is delivered.
        """
        s = self.state
        deliver_all = planned.mode == Mode.TASK
        sla = None  # recorded histories without a delivery SLA run as they ran
        if planned.mode == Mode.AUTO and planned.sla_seconds and workflow.patched(DELIVERY_SLA):
            sla = planned.sla_seconds
        while True:
            seen = s.delivery_signals
            status = await self._act(
                OrderStepActivities.check_order_delivery,
                DeliveryStepInput(
                    **self._step_fields(),
                    handled=list(s.failed_handled),
                    deliver_all=deliver_all,
                    sla_seconds=sla,
                ),
            )
            deliver_all = False
            if status.settled:
                return
            failed = [n for n in status.failed if n not in s.failed_handled]
            if failed:
                self._note("shipment_failed", f"shipment {failed[0]} failed: order desk task")
                await self._task(FAILED_DELIVERY, f"failed:{failed[0]}")
                s.failed_handled.append(failed[0])
                continue
            late = [n for n in status.late if n not in s.late_chased]
            if late:
                self._note(
                    "delivery_late",
                    f"shipment {late[0]} is late (not delivered within the delivery SLA): "
                    "order desk task to chase the carrier",
                )
                s.late_chased.append(late[0])
                await self._task(LATE_DELIVERY, f"late:{late[0]}")
                continue
            await self._await_delivery(seen, status.late_in_seconds)

    async def _collection(self, planned: PlannedStep) -> None:
        """Wait until the invoices are paid, reminding on the dunning schedule; then done."""
        s = self.state
        assert s.plan is not None
        # Written by the activity that finds the order settled, after the payment entry.
        done = [
            TrailEntry(
                key=f"{s.number}:trail:collection_done",
                kind="step_completed",
                message=f"{Step.COLLECTION} done",
                step=Step.COLLECTION,
            ),
            TrailEntry(
                key=f"{s.number}:trail:completed",
                kind="completed",
                message="order completed",
                step=Step.COLLECTION,
                status=OrderStatus.COMPLETED,
                clear_step=True,
            ),
        ]
        while True:
            seen = s.payment_signals
            paid = await self._act(
                OrderStepActivities.collect_order_payment,
                CollectStepInput(**self._step_fields(), prepaid=s.plan.prepaid, settled_trail=done),
            )
            if paid.settled:
                s.status = OrderStatus.COMPLETED
                return
            await self._await_payment(seen)

    # ---- waits -------------------------------------------------------------------------------

    # Each wait counts the signals from `seen`, the count before the activity that made the
    # order wait: a signal during that activity wakes it at once.

    async def _await_stock(self, seen: int) -> None:
        """Until stock may be there: a signal (receipt, amendment), or a recheck that sees it."""
        s = self.state
        while True:
            if await self._wait(lambda: s.stock_signals > seen):
                self._raise_if_cancelled()
                return
            peek = await self._peek(
                OrderStepActivities.peek_order_stock, ShipmentRef(s.number, s.shipment)
            )
            if peek.ready:
                return

    async def _await_suppliers(self, seen: int) -> None:
        """Until a supplier confirms shipping, or a recheck sees every purchase order shipped."""
        s = self.state
        while True:
            if await self._wait(lambda: s.supplier_signals > seen):
                self._raise_if_cancelled()
                return
            if await self._peek(OrderStepActivities.peek_purchase_orders, OrderRef(s.number)) == 0:
                return

    async def _await_service(self, seen: int) -> None:
        """Until staff confirm the service (a signal), or a recheck sees it confirmed."""
        s = self.state
        while True:
            if await self._wait(lambda: s.service_signals > seen):
                self._raise_if_cancelled()
                return
            peek = await self._peek(OrderStepActivities.peek_order_service, OrderRef(s.number))
            if peek.delivered:
                return

    async def _await_delivery(self, seen: int, late_in: float | None = None) -> None:
        """Until a shipment is delivered (or fails), or a recheck sees them all settled; with
        a delivery SLA, until the next shipment in transit is late (`late_in` seconds)."""
        s = self.state
        while True:
            if late_in is not None:  # signalled, or the SLA (or the recheck) is due: look again
                recheck = self._input.backorder_recheck_seconds
                await self._wait(lambda: s.delivery_signals > seen, min(recheck, late_in))
                return
            if await self._wait(lambda: s.delivery_signals > seen):
                return
            ref = DeliveryRef(s.number, list(s.failed_handled))
            peek = await self._peek(OrderStepActivities.peek_order_delivery, ref)
            if peek.settled or any(n not in s.failed_handled for n in peek.failed):
                return

    async def _await_payment(self, seen: int) -> None:
        """Until a payment is signalled or a recheck sees it settled; reminders meanwhile."""
        s = self.state
        schedule = self._input.dunning_schedule_seconds
        while True:
            reminder_in = next_reminder_in(s, schedule, workflow.now())
            wait = self._input.backorder_recheck_seconds
            if reminder_in is not None:
                wait = min(wait, reminder_in)
            if await self._wait(lambda: s.payment_signals > seen, wait):
                return
            if next_reminder_in(s, schedule, workflow.now()) == 0:
                s.reminders_sent += 1
                status = await self._act(
                    OrderStepActivities.send_payment_reminder,
                    PaymentReminderInput(**self._step_fields(), reminder=s.reminders_sent),
                )
            else:
                status = await self._peek(
                    OrderStepActivities.peek_order_payment, OrderRef(s.number)
                )
            if status.settled:
                return

    async def _wait(self, signalled: Callable[[], bool], seconds: float | None = None) -> bool:
        """Wait until `signalled` (or a cancel comes): True; or until the safety recheck is due
        after `seconds` (default: the recheck interval): False.

        A long history continues-as-new here first, the one place where nothing is under way.
        """
        await self._continue_as_new_if_due()
        if seconds is None:
            seconds = self._input.backorder_recheck_seconds

        def woken() -> bool:
            return signalled() or self.state.cancel is not None

        try:
            await workflow.wait_condition(woken, timeout=timedelta(seconds=max(seconds, 0.001)))
            return True
        except TimeoutError:
            return False

    async def _continue_as_new_if_due(self) -> None:
        info = workflow.info()
        due = info.is_continue_as_new_suggested() or (
            info.get_current_history_length() >= self._input.max_history_events
        )
        if not due:
            return
        # Handlers finish first (an amend, a task mail): the next run starts from their effect.
        # An accepted cancel waits for the end of the order, so it is run here instead.
        s = self.state
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() or s.cancel is not None
        )
        self._raise_if_cancelled()
        await asyncio.gather(*self._reminders)
        s.runs += 1
        workflow.continue_as_new(replace(self._input, state=s))

    # ---- people ------------------------------------------------------------------------------

    async def _task(
        self, planned: PlannedStep, suffix: str, *, expires_after: float | None = None
    ) -> None:
        """Create the step's task and wait for its outcome (or a cancel, or expiry)."""
        assert planned.role, "a task step needs a role"
        s = self.state
        created = workflow.now()
        task = await self._act(
            OrderStepActivities.create_order_task,
            OrderTaskInput(
                **self._step_fields(),
                task_key=f"{s.number}:{planned.step}:{suffix}",
                step=planned.step,
                role=planned.role,
                assign=planned.assign,
                sla_seconds=planned.sla_seconds,
                fallback=planned.fallback,
            ),
        )
        s.pending_task_id = task.task_id
        self._set_assignee(task.assignee_email)
        await self._escalate_on_sla(task, planned)
        timeout = None
        if expires_after is not None:
            elapsed = (workflow.now() - created).total_seconds()
            timeout = timedelta(seconds=max(expires_after - elapsed, 0.001))
        try:
            await workflow.wait_condition(
                lambda: task.task_id in s.recorded_tasks or s.cancel is not None, timeout=timeout
            )
        except TimeoutError:
            s.cancel = CancelRequest(reason=f"{planned.step} expired unanswered")
        s.pending_task_id = None
        self._set_assignee(None)
        self._raise_if_cancelled()
        outcome = s.outcomes[task.task_id]
        if outcome.outcome == "rejected":
            s.cancel = CancelRequest(reason=f"{planned.step} rejected", actor=outcome.actor)
            self._raise_if_cancelled()

    async def _escalate_on_sla(self, task: TaskRef, planned: PlannedStep) -> None:
        """Durable SLA timers: remind the assignee, then reassign or escalate, as the rule says."""
        s = self.state
        started = workflow.now()

        async def done_within(seconds: float) -> bool:
            remaining = seconds - (workflow.now() - started).total_seconds()
            try:
                await workflow.wait_condition(
                    lambda: task.task_id in s.recorded_tasks or s.cancel is not None,
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
        result = await self._act(
            OrderStepActivities.escalate_order_task,
            EscalateOrderTaskInput(
                **self._step_fields(), task_id=task_id, action=action, to_role=to_role, step=step
            ),
        )
        if result.action not in ("none", "remind"):
            self._set_assignee(result.assignee_email)

    # ---- compensation ------------------------------------------------------------------------

    async def _compensate(self) -> None:
        """Release the stock, cancel open tasks and purchase orders, tell the customer."""
        s = self.state
        assert s.cancel is not None
        s.status = OrderStatus.CANCELLED
        await self._act(
            OrderStepActivities.cancel_order_compensation,
            CompensateOrderInput(
                **self._step_fields(),
                release_stock=s.stock_committed,
                cancel_purchase_orders=bool(s.purchase_orders),
                reason=s.cancel.reason,
                actor=s.cancel.actor,
            ),
        )

    # ---- plumbing ----------------------------------------------------------------------------

    def _serves(self) -> bool:
        """v11: the order has service lines (histories before have none, and no marker)."""
        return self.state.services and workflow.patched(SERVICE_LINES)

    def _raise_if_cancelled(self) -> None:
        if self.state.cancel is not None:
            raise Cancelled()

    def _note(
        self,
        kind: str,
        message: str,
        *,
        step: str | None = None,
        status: OrderStatus | None = None,
        current: str | None = None,
        clear: bool = False,
        actor: str = "system",
    ) -> None:
        """Add a trail entry; the next activity writes it (its key comes from the counter)."""
        s = self.state
        s.trail.append(
            TrailEntry(
                key=s.next_key(),
                kind=kind,
                message=message,
                step=step or s.step,
                status=status,
                current_step=current,
                clear_step=clear,
                actor=actor,
                at=workflow.now(),
            )
        )

    def _take_trail(self) -> list[TrailEntry]:
        entries, self.state.trail = self.state.trail, []
        return entries

    def _step_fields(self) -> StepFields:
        """The fields every step activity's input starts with: order, call key, trail, shipment."""
        s = self.state
        return {
            "order_number": s.number,
            "key": s.next_key(),
            "trail": self._take_trail(),
            "shipment": s.shipment,
        }

    def _step_input(self) -> OrderStepInput:
        return OrderStepInput(**self._step_fields())

    def _set_assignee(self, email: str | None) -> None:
        if email:
            workflow.upsert_search_attributes([ASSIGNEE.value_set(email)])
        else:
            workflow.upsert_search_attributes([ASSIGNEE.value_unset()])

    async def _act(self, activity: Callable[[OrderStepActivities, In], Out], arg: In) -> Out:
        """Run one of the order's activities, retried with backoff."""
        return await workflow.execute_activity_method(
            activity,
            arg,
            start_to_close_timeout=timedelta(seconds=self._input.activity_timeout_seconds),
            retry_policy=RETRY,
        )

    async def _peek(self, activity: Callable[[OrderStepActivities, In], Out], arg: In) -> Out:
        """A read-only recheck as a local activity: no activity task, one marker in history."""
        return await workflow.execute_local_activity_method(
            activity, arg, start_to_close_timeout=PEEK_TIMEOUT, retry_policy=RETRY
        )
