"""The SalesOrder workflow's activities: one per business step, each one transaction.

Each activity writes the trail entries the workflow handed it (`trail`), then does its effect,
the trail entries of that effect and the mails it causes (outbox rows, sent later by the
dispatcher), and commits once. Keys come from the workflow, so a retry repeats nothing.
The `peek_*` activities only read; the workflow runs them as local activities for its rechecks.
"""

from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.common import load_order
from conveyor.audit import service as audit_service
from conveyor.audit.service import Actor
from conveyor.core.db import session_scope
from conveyor.core.settings import Settings
from conveyor.employee.models import Employee
from conveyor.inventory import fulfilment
from conveyor.inventory import service as inventory_service
from conveyor.inventory.service import StockNeed
from conveyor.invoice import receivables
from conveyor.invoice import service as invoice_service
from conveyor.invoice import shipment as shipment_invoicing
from conveyor.notification import service as outbox_service
from conveyor.opportunity import service as opportunity_service
from conveyor.order import amendment, planning, quotes, trail
from conveyor.order import service as order_service
from conveyor.order import services as order_services
from conveyor.order.enums import OrderStatus, Step
from conveyor.order.models import SalesOrder
from conveyor.outbound import events as outbound_events
from conveyor.purchasing import links as supplier_links
from conveyor.purchasing import service as purchasing_service
from conveyor.shipping import service as shipping_service
from conveyor.storefeedback import service as store_feedback
from conveyor.task import escalation
from conveyor.task import service as task_service
from conveyor.task.service import TaskConflictError
from routing_rules.models import StepRoute
from routing_rules.registry import RuleRegistry
from workflows.types import (
    AllocateStepInput,
    AllocateStepResult,
    AmendLinesInput,
    AmendResult,
    BeginOrderInput,
    BeginOrderResult,
    CollectStepInput,
    CompensateOrderInput,
    CreditCheckResult,
    DeliveryRef,
    DeliveryStatus,
    DeliveryStepInput,
    EscalateOrderTaskInput,
    EscalateTaskResult,
    InvoiceStepInput,
    InvoiceStepResult,
    OrderPlan,
    OrderRef,
    OrderStepInput,
    OrderTaskInput,
    PackStepInput,
    PaymentReminderInput,
    PaymentStatus,
    PickListResult,
    PlannedStep,
    QuoteReminderInput,
    ServiceStatus,
    ServiceStepInput,
    ShipmentRef,
    SiblingQuotes,
    StockStepResult,
    TaskMailInput,
    TaskOutcomeInput,
    TaskRef,
    TrailEntry,
)


class OrderStepActivities:
    """The order's step activities; holds the engine, the rule registry and the settings."""

    def __init__(self, engine: Engine, settings: Settings, rules: RuleRegistry) -> None:
        self.engine = engine
        self.rules = rules
        self.app_url = settings.public_url
        self.default_warehouse = settings.default_warehouse
        # Set: picking also moves the goods to this staging location (CONVEYOR_STAGING_LOCATION).
        self.staging_location = settings.staging_location
        self.tracking_urls = settings.carrier_tracking_urls
        self.settings = settings  # the supplier's signed link in a purchase order's mail

    def all(self) -> list:
        """Every activity of this class, for the worker (the `peek_*` ones run as local ones)."""
        return [
            self.begin_order,
            self.remind_order_quote,
            self.accept_order_quote,
            self.check_order_stock,
            self.allocate_order_stock,
            self.pick_order,
            self.pack_order_shipment,
            self.check_order_credit,
            self.invoice_order_shipment,
            self.check_order_delivery,
            self.check_order_service,
            self.collect_order_payment,
            self.send_payment_reminder,
            self.create_order_task,
            self.complete_order_task,
            self.escalate_order_task,
            self.notify_task_assignee,
            self.amend_order_lines,
            self.cancel_order_compensation,
            self.write_order_trail,
            self.peek_order_stock,
            self.peek_order_payment,
            self.peek_purchase_orders,
            self.peek_order_delivery,
            self.peek_order_service,
        ]

    # ---- begin and quote -------------------------------------------------------------------

    @activity.defn
    def begin_order(self, request: BeginOrderInput) -> BeginOrderResult:
        """Route the order (rule and version on it and in its trail) and tell the customer:
        the quote when the plan makes it one, the order confirmation otherwise."""
        with session_scope(self.engine) as session:
            order = self._open(session, request)
            route = planning.route(session=session, order=order, rules=self.rules.current())
            quote_first = any(s.step == Step.QUOTE and s.mode == "task" for s in route.steps)
            if quote_first:
                trail.note(
                    session=session,
                    order=order,
                    key=f"{request.key}:quote_sent",
                    kind="quote_sent",
                    message="quote sent to the customer",
                    step=Step.QUOTE,
                    status=OrderStatus.QUOTE,
                )
                self._mail(
                    session,
                    order,
                    "quote_sent",
                    "quote:sent",
                    extra={"valid_until": request.quote_valid_until},
                )
            else:
                self._mail(session, order, "order_confirmation", "confirmation")
            plan = OrderPlan(
                rule=route.rule,
                rules_version=route.version,
                prepaid=order.prepaid,
                partial=order.allow_partial,
                drop_ship=route.drop_ship,
                services=route.services,
                service_only=route.service_only,
                steps=[_planned(s) for s in route.steps],
            )
            return BeginOrderResult(plan=plan, quote_first=quote_first)

    @activity.defn
    def remind_order_quote(self, request: QuoteReminderInput) -> None:
        """The quote expires soon: noted in the trail and mailed to the customer, once."""
        with session_scope(self.engine) as session:
            order = load_order(session, request.order_number)
            trail.note(
                session=session,
                order=order,
                key=request.key,
                kind="quote_expiring",
                message=f"quote reminder: valid until {request.valid_until}",
                step=Step.QUOTE,
            )
            self._mail(
                session,
                order,
                "quote_expiring",
                "quote:expiring",
                extra={"valid_until": request.valid_until},
            )

    @activity.defn
    def accept_order_quote(self, request: OrderStepInput) -> SiblingQuotes:
        """The quote became the order: status open, confirmation mailed, its opportunity won;
        returns the other open quotes of its opportunity, which the workflow voids."""
        with session_scope(self.engine) as session:
            order = self._open(session, request)
            trail.note(
                session=session,
                order=order,
                key=f"{request.key}:quote_accepted",
                kind="quote_accepted",
                message="quote accepted",
                step=Step.QUOTE,
                status=OrderStatus.OPEN,
            )
            self._mail(session, order, "order_confirmation", "confirmation")
            # The quote's deal is won by it, in the transaction of the acceptance (idempotent),
            # in the name of whoever accepted the quote.
            opportunity_service.quote_accepted(
                session=session, order=order, actor=_quote_accepter(session, order)
            )
            siblings = order_service.sibling_quotes(session=session, order=order)
            return SiblingQuotes([o.number for o in siblings if o.number])

    # ---- stock -----------------------------------------------------------------------------

    @activity.defn
    def check_order_stock(self, request: OrderStepInput) -> StockStepResult:
        """Is what is still to allocate in stock (a partial order: some of it)? Short: the order
        is backordered; stock back: open again."""
        with session_scope(self.engine) as session:
            order = self._open(session, request)
            stock = fulfilment.check(session=session, order=order)
            ready = stock.available or (request.shipment > 0 and stock.some_available)
            shortages = _describe(stock.shortages)
            self._mark_stock(session, order, request.key, Step.STOCK_CHECK, ready, shortages)
            return StockStepResult(ready=ready, status=order.status, shortages=shortages)

    @activity.defn
    def allocate_order_stock(self, request: AllocateStepInput) -> AllocateStepResult:
        """Commit the order's stock (all of it, or a shipment's share of what is there), then send
        the drop-ship purchase orders; nothing committed: the order is backordered."""
        with session_scope(self.engine) as session:
            order = self._open(session, request)
            number = order.number or ""
            n = request.shipment
            if n == 0:
                needs = fulfilment.needs(session=session, order_id=order.id or 0)
                committed = inventory_service.commit(
                    session=session,
                    key=f"{number}:commit",
                    order_number=number,
                    needs=needs,
                    warehouse=order.warehouse,
                    default_warehouse=self.default_warehouse,
                )
                left = [] if committed else needs
                message = "stock committed"
            else:
                lines = inventory_service.commit_available(
                    session=session,
                    key=f"{number}:commit:s{n}",
                    order_number=number,
                    needs=fulfilment.remaining(
                        session=session, order_number=number, order_id=order.id or 0
                    ),
                    warehouse=order.warehouse,
                    default_warehouse=self.default_warehouse,
                )
                left = fulfilment.remaining(
                    session=session, order_number=number, order_id=order.id or 0
                )
                committed = bool(lines) or not left
                remaining = sum(need.qty for need in left)
                later = f"; {remaining} units to follow" if remaining else ""
                message = f"shipment {n}: stock committed{later}"
            shortages = _describe(inventory_service.shortages(session=session, needs=left))
            self._mark_stock(session, order, request.key, Step.ALLOCATION, committed, shortages)
            if not committed:
                return AllocateStepResult(False, status=order.status, shortages=shortages)
            trail.note(
                session=session,
                order=order,
                key=f"{request.key}:allocated",
                kind="allocated",
                message=message,
                step=Step.ALLOCATION,
            )
            purchase_orders = (
                self._order_from_suppliers(session, order, request.key)
                if request.order_from_suppliers
                else []
            )
            return AllocateStepResult(
                committed=True,
                status=order.status,
                remaining=sum(need.qty for need in left) if n else 0,
                shortages=shortages,
                purchase_orders=purchase_orders,
            )

    @activity.defn
    def pick_order(self, request: OrderStepInput) -> PickListResult:
        """Write the pick list of the order (or of one shipment), by location, once."""
        with session_scope(self.engine) as session:
            order = self._open(session, request)
            number = order.number or ""
            n = request.shipment
            if n == 0:

                def goods() -> list[StockNeed]:
                    return fulfilment.order_goods(
                        session=session,
                        order_number=number,
                        order_id=order.id or 0,
                        default_warehouse=self.default_warehouse,
                    )
            else:

                def goods() -> list[StockNeed]:
                    return inventory_service.commitments_under(
                        session=session, key=f"{number}:commit:s{n}"
                    )

            lines = fulfilment.write_pick_list(
                session=session,
                order=order,
                shipment=max(n, 1),
                goods=goods,
                staging=self.staging_location,
                default_warehouse=self.default_warehouse,
            )
            trail.note(
                session=session,
                order=order,
                key=f"{request.key}:pick_list",
                kind="pick_list",
                message=f"pick list with {len(lines)} lines",
                step=Step.PICKING,
            )
            return PickListResult(lines=len(lines))

    @activity.defn
    def pack_order_shipment(self, request: PackStepInput) -> None:
        """Deduct the packed goods from on-hand and committed, once, and record them as a
        shipment (with the carrier and tracking staff gave the packing task); the customer is
        told. Without goods of its own (all drop-ship) there is no shipment here."""
        with session_scope(self.engine) as session:
            order = self._open(session, request)
            number = order.number or ""
            n = request.shipment
            if n == 0:
                key = f"{number}:pack"
                needs = fulfilment.needs(session=session, order_id=order.id or 0)
                message = "packed; on-hand deducted"
            else:
                key = f"{number}:pack:s{n}"
                needs = inventory_service.commitments_under(
                    session=session, key=f"{number}:commit:s{n}"
                )
                message = f"shipment {n} packed; on-hand deducted"
            inventory_service.pack(
                session=session,
                key=key,
                order_number=number,
                needs=needs,
                default_warehouse=self.default_warehouse,
            )
            trail.note(
                session=session,
                order=order,
                key=f"{request.key}:packed",
                kind="packed",
                message=message,
                step=Step.PACKING,
            )
            names = {
                line.sku: line.name
                for line in order_service.lines(session=session, order_id=order.id or 0)
            }
            if not needs:
                return  # all drop-ship: the supplier's shipment is the one the customer hears of
            warehouses = {need.warehouse or self.default_warehouse for need in needs}
            shipping_service.record_shipped(
                session=session,
                key=key,
                order=order,
                number=max(n, 1),
                goods=[(need.sku, names.get(need.sku, ""), need.qty) for need in needs],
                warehouse=warehouses.pop() if len(warehouses) == 1 else None,
                templates=self.tracking_urls,
                app_url=self.app_url,
                delivered_at_once=request.delivered_at_once,
            )

    @activity.defn
    def check_order_delivery(self, request: DeliveryStepInput) -> DeliveryStatus:
        """Whether every shipment is delivered (or failed and followed up); after the own-fleet
        delivery task, first marks every shipment in transit delivered."""
        with session_scope(self.engine) as session:
            order = self._open(session, request)
            if request.deliver_all:
                shipping_service.deliver_all(
                    session=session,
                    order=order,
                    actor=audit_service.Actor.system(),
                    app_url=self.app_url,
                )
            return _delivery_status(session, order, request.handled, request.sla_seconds)

    @activity.defn
    def check_order_service(self, request: ServiceStepInput) -> ServiceStatus:
        """Whether the order's service is confirmed delivered; after the service step's task,
        first confirms it for whoever completed the task."""
        with session_scope(self.engine) as session:
            order = self._open(session, request)
            if request.confirm:
                order_services.confirm(
                    session=session,
                    order=order,
                    actor=Actor.on_behalf(request.actor),
                    note="its task completed",
                )
            return _service_status(session, order)

    # ---- money -----------------------------------------------------------------------------

    @activity.defn
    def check_order_credit(self, request: OrderStepInput) -> CreditCheckResult:
        """Open receivables plus this order against the customer's credit limit; over it, the
        order is held (noted in the trail) for a credit approval task."""
        with session_scope(self.engine) as session:
            order = self._open(session, request)
            credit = receivables.check_credit(session=session, order=order)
            if not credit.approved:
                trail.note(
                    session=session,
                    order=order,
                    key=f"{request.key}:credit_hold",
                    kind="credit_hold",
                    message=f"credit check: {credit.reason}",
                    step=Step.ALLOCATION,
                )
            return CreditCheckResult(
                approved=credit.approved,
                credit_limit=credit.credit_limit,
                exposure=credit.exposure,
                reason=credit.reason,
            )

    @activity.defn
    def invoice_order_shipment(self, request: InvoiceStepInput) -> InvoiceStepResult:
        """Invoice the order (or what one shipment packed) once and mail the invoice; with
        drop-ship lines still at the supplier, invoice nothing yet."""
        with session_scope(self.engine) as session:
            order = self._open(session, request)
            number = order.number or ""
            n = request.shipment
            if request.wait_for_suppliers:
                still_open = purchasing_service.open_count(session=session, order_id=order.id or 0)
                if still_open:
                    return InvoiceStepResult(invoiced=False, open_purchase_orders=still_open)
                trail.note(
                    session=session,
                    order=order,
                    key=f"{request.key}:supplier_shipped",
                    kind="supplier_shipped",
                    message="the suppliers shipped the drop-ship lines",
                    step=Step.INVOICING,
                )
            if n == 0:
                invoice = invoice_service.create_for_order(
                    session=session, key=f"{number}:invoice", order=order
                )
                prefix = ""
            else:
                goods = [
                    (g.sku, g.qty)
                    for g in inventory_service.committed_under(
                        session=session, key=f"{number}:commit:s{n}"
                    )
                ]
                if request.last:  # drop-ship and service lines are billed with the last shipment
                    drop_ship = purchasing_service.drop_ship_lines(
                        session=session, order_id=order.id or 0
                    )
                    services = order_services.service_lines(session=session, order_id=order.id or 0)
                    goods += [(line.sku, line.qty) for line in [*drop_ship, *services]]
                invoice = shipment_invoicing.create_for_shipment(
                    session=session,
                    key=f"{number}:invoice:s{n}",
                    order=order,
                    goods=goods,
                    first=n == 1,
                    last=request.last,
                )
                prefix = f"shipment {n}: "
            trail.note(
                session=session,
                order=order,
                key=f"{request.key}:invoiced",
                kind="invoiced",
                message=f"{prefix}invoice {invoice.number} for {invoice.total}",
                step=Step.INVOICING,
            )
            self._mail(
                session,
                order,
                "invoice_issued",
                f"invoice:{invoice.number}",
                extra={"invoice_number": invoice.number or "", "invoice_total": str(invoice.total)},
            )
            return InvoiceStepResult(
                invoiced=True, number=invoice.number or "", total=invoice.total
            )

    @activity.defn
    def collect_order_payment(self, request: CollectStepInput) -> PaymentStatus:
        """Record a prepaid order's payment; settled: noted, mailed, and the order completed
        (`settled_trail`) in the same transaction."""
        with session_scope(self.engine) as session:
            order = self._open(session, request)
            if request.prepaid:
                receivables.settle_prepaid(
                    session=session, key=f"{order.number}:prepayment", order=order
                )
            status = _payment_status(session, order)
            if status.settled:
                over = -status.due
                extra = f"; overpaid by {over}, a credit for the customer" if over > 0 else ""
                trail.note(
                    session=session,
                    order=order,
                    key=f"{request.key}:paid",
                    kind="paid",
                    message=f"paid {status.paid} of {status.invoiced}{extra}",
                    step=Step.COLLECTION,
                )
                self._mail(
                    session, order, "payment_received", "paid", extra={"amount": str(status.paid)}
                )
                self._write(session, order, request.settled_trail)
            return status

    @activity.defn
    def send_payment_reminder(self, request: PaymentReminderInput) -> PaymentStatus:
        """Remind the customer of what is still due (once per reminder); paid meanwhile: none."""
        with session_scope(self.engine) as session:
            order = self._open(session, request)
            status = _payment_status(session, order)
            if status.settled:
                return status
            n = request.reminder
            trail.note(
                session=session,
                order=order,
                key=f"{request.key}:payment_reminder",
                kind="payment_reminder",
                message=f"payment reminder {n}: {status.due} still due",
                step=Step.COLLECTION,
            )
            self._mail(
                session,
                order,
                "payment_overdue",
                f"dunning:{n}",
                extra={"amount_due": str(status.due), "reminder": str(n)},
            )
            return status

    # ---- tasks -----------------------------------------------------------------------------

    @activity.defn
    def create_order_task(self, request: OrderTaskInput) -> TaskRef:
        """Create the step's task and assign it by its strategy (once per key), note it in the
        trail and mail whoever has it."""
        with session_scope(self.engine) as session:
            order = self._open(session, request)
            task = task_service.create_assigned(
                session=session,
                key=request.task_key,
                order=order,
                step=request.step,
                role=request.role,
                due_in=timedelta(seconds=request.sla_seconds) if request.sla_seconds else None,
                assign=request.assign,
                fallback=request.fallback,
            )
            employee = session.get(Employee, task.assignee_id) if task.assignee_id else None
            who = f", assigned to {employee.email}" if employee else ", in the pool"
            trail.note(
                session=session,
                order=order,
                key=f"{request.key}:task_created",
                kind="task_created",
                message=f"task {task.id} for role {request.role}{who}",
                step=request.step,
            )
            self._mail(session, order, "task_assigned", f"task:{task.id}:assigned", task_id=task.id)
            return TaskRef(
                task_id=task.id or 0,
                assignee_id=task.assignee_id,
                assignee_email=employee.email if employee else None,
            )

    @activity.defn
    def complete_order_task(self, request: TaskOutcomeInput) -> None:
        """Store the outcome, note and who completed the task, and note it in the trail."""
        with session_scope(self.engine) as session:
            order = load_order(session, request.order_number)
            try:
                task_service.mark_completed(
                    session=session,
                    task_id=request.task_id,
                    outcome=request.outcome,
                    note=request.note,
                    actor=request.actor,
                )
            except TaskConflictError as exc:
                raise ApplicationError(str(exc), type="InvalidRequest", non_retryable=True) from exc
            note = f" ({request.note})" if request.note else ""
            trail.note(
                session=session,
                order=order,
                key=f"{order.number}:trail:task:{request.task_id}:completed",
                kind="task_completed",
                message=f"task {request.task_id}: {request.outcome}{note}",
                step=request.step,
                actor=request.actor,
            )

    @activity.defn
    def escalate_order_task(self, request: EscalateOrderTaskInput) -> EscalateTaskResult:
        """Remind, reassign to someone else on duty, or move the task to a supervisor role;
        noted in the trail and mailed."""
        with session_scope(self.engine) as session:
            order = self._open(session, request)
            done = escalation.escalate(
                session=session,
                task_id=request.task_id,
                action=request.action,
                to_role=request.to_role,
            )
            if done is None:
                raise ApplicationError("task not found", type="InvalidRequest", non_retryable=True)
            if done.action != "none":
                remind = request.action == "remind"
                trail.note(
                    session=session,
                    order=order,
                    key=f"{request.key}:{'sla_reminder' if remind else 'escalated'}",
                    kind="sla_reminder" if remind else "escalated",
                    message=f"task {done.task_id}: {done.message}",
                    step=request.step,
                )
                self._mail(
                    session,
                    order,
                    "task_reminder" if remind else "task_escalated",
                    f"task:{done.task_id}:{'reminder' if remind else 'escalated'}",
                    task_id=done.task_id,
                    to_role=request.to_role if request.action == "escalate" else None,
                )
            return EscalateTaskResult(
                task_id=done.task_id,
                action=done.action,
                assignee_id=done.assignee_id,
                assignee_email=done.assignee_email,
                role=done.role,
                message=done.message,
            )

    @activity.defn
    def notify_task_assignee(self, request: TaskMailInput) -> None:
        """Mail a task's new assignee (clock-in, claim, reassign), once per key."""
        with session_scope(self.engine) as session:
            order = load_order(session, request.order_number)
            outbox_service.queue(
                session=session,
                key=request.key,
                kind="task_assigned",
                order=order,
                app_url=self.app_url,
                task_id=request.task_id,
            )

    # ---- changes ---------------------------------------------------------------------------

    @activity.defn
    def amend_order_lines(self, request: AmendLinesInput) -> AmendResult:
        """Replace the order's lines (once per key), before/after in the trail, customer told."""
        with session_scope(self.engine) as session:
            order = load_order(session, request.order_number)
            try:
                summary = amendment.amend(
                    session=session,
                    key=request.key,
                    order=order,
                    lines=[(line.sku, line.qty) for line in request.lines],
                    actor=request.actor,
                )
            except order_service.OrderError as exc:
                raise ApplicationError(str(exc), type="InvalidRequest", non_retryable=True) from exc
            outbox_service.queue(
                session=session,
                key=request.mail_key,
                kind="order_amended",
                order=order,
                app_url=self.app_url,
                extra={"summary": summary},
            )
            lines = order_services.composition(session=session, order_id=order.id or 0)
            return AmendResult(
                total=order.total,
                summary=summary,
                services=lines.services,
                service_only=lines.service_only,
            )

    @activity.defn
    def cancel_order_compensation(self, request: CompensateOrderInput) -> None:
        """Compensate a cancelled order: release its stock, cancel its open tasks and purchase
        orders, mark it cancelled and tell the customer, in one transaction."""
        with session_scope(self.engine) as session:
            order = self._open(session, request)
            number = order.number or ""
            before = {"status": order.status, "current_step": order.current_step}
            if request.release_stock:
                inventory_service.release(
                    session=session,
                    key=f"{number}:release",
                    order_number=number,
                    needs=fulfilment.needs(session=session, order_id=order.id or 0),
                    default_warehouse=self.default_warehouse,
                )
            task_service.cancel_open_for_order(session=session, order_id=order.id or 0)
            if request.cancel_purchase_orders:
                purchasing_service.cancel_open(session=session, order_id=order.id or 0)
            # A revised quote is voided by the signal that voids an accepted quote's siblings: the
            # trail, the audit and the mail say what really happened to it.
            why = quotes.cancel_reason(order, request.reason)
            reason = f": {why}" if why else ""
            trail.note(
                session=session,
                order=order,
                key=f"{request.key}:cancelled",
                kind="cancelled",
                message=f"order cancelled{reason}",
                status=OrderStatus.CANCELLED,
                clear_step=True,
                actor=request.actor,
            )
            # For the person (or store) named in the cancel request: the workflow acts for them.
            # Once: a retry after a lost completion finds the order cancelled already.
            if before["status"] != OrderStatus.CANCELLED:
                audit_service.record(
                    session,
                    actor=Actor.on_behalf(request.actor),
                    action="order.cancel",
                    entity="order",
                    entity_id=number,
                    before=before,
                    after={"status": OrderStatus.CANCELLED, "reason": why},
                )
                outbound_events.order_cancelled(session, order, why)
                if not request.actor.startswith("webhook:"):  # not when the store cancelled it
                    store_feedback.cancelled(session, order, why)
            self._mail(session, order, "order_cancelled", "cancelled", extra={"reason": why})

    @activity.defn
    def write_order_trail(self, request: OrderStepInput) -> None:
        """Write the trail the workflow still holds when no step activity follows."""
        with session_scope(self.engine) as session:
            self._open(session, request)

    # ---- rechecks (local activities: read only) --------------------------------------------

    @activity.defn
    def peek_order_stock(self, ref: ShipmentRef) -> StockStepResult:
        """Could the waiting stock step go on now? (Reads only.)"""
        with session_scope(self.engine) as session:
            order = load_order(session, ref.order_number)
            stock = fulfilment.check(session=session, order=order)
            ready = stock.available or (ref.shipment > 0 and stock.some_available)
            return StockStepResult(ready, status=order.status, shortages=_describe(stock.shortages))

    @activity.defn
    def peek_order_payment(self, ref: OrderRef) -> PaymentStatus:
        """How much of the order is invoiced, credited and paid. (Reads only.)"""
        with session_scope(self.engine) as session:
            return _payment_status(session, load_order(session, ref.order_number))

    @activity.defn
    def peek_purchase_orders(self, ref: OrderRef) -> int:
        """How many of the order's purchase orders still wait for their supplier. (Reads only.)"""
        with session_scope(self.engine) as session:
            order = load_order(session, ref.order_number)
            return purchasing_service.open_count(session=session, order_id=order.id or 0)

    @activity.defn
    def peek_order_delivery(self, ref: DeliveryRef) -> DeliveryStatus:
        with session_scope(self.engine) as session:
            return _delivery_status(session, load_order(session, ref.order_number), ref.handled)

    @activity.defn
    def peek_order_service(self, ref: OrderRef) -> ServiceStatus:
        with session_scope(self.engine) as session:
            return _service_status(session, load_order(session, ref.order_number))

    # ---- helpers ---------------------------------------------------------------------------

    def _open(self, session: Session, request: OrderStepInput) -> SalesOrder:
        """The order, with the trail the workflow handed over written first."""
        order = load_order(session, request.order_number)
        self._write(session, order, request.trail)
        return order

    def _write(self, session: Session, order: SalesOrder, entries: list[TrailEntry]) -> None:
        trail.write(session=session, order=order, entries=[_entry(e) for e in entries])

    def _mail(
        self,
        session: Session,
        order: SalesOrder,
        kind: str,
        suffix: str,
        *,
        task_id: int | None = None,
        to_role: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        """Queue a mail about the order in this transaction (key `<number>:<suffix>`)."""
        outbox_service.queue(
            session=session,
            key=f"{order.number}:{suffix}",
            kind=kind,
            order=order,
            app_url=self.app_url,
            task_id=task_id,
            to_role=to_role,
            extra=extra,
        )

    def _mark_stock(
        self,
        session: Session,
        order: SalesOrder,
        key: str,
        step: Step,
        ready: bool,
        shortages: list[str],
    ) -> None:
        if ready:
            trail.available_again(
                session=session, order=order, key=f"{key}:stock_available", step=step
            )
        else:
            trail.backordered(
                session=session,
                order=order,
                key=f"{key}:backordered",
                step=step,
                shortages=shortages,
            )

    def _order_from_suppliers(self, session: Session, order: SalesOrder, key: str) -> list[str]:
        """Drop-ship lines: one purchase order per supplier, noted and mailed to the supplier."""
        created = purchasing_service.create_for_order(
            session=session, key=f"{order.number}:po", order=order
        )
        for purchase in created:
            trail.note(
                session=session,
                order=order,
                key=f"{key}:po:{purchase.number}",
                kind="purchase_order",
                message=f"purchase order {purchase.number} sent to {purchase.supplier_email}",
                step=Step.ALLOCATION,
            )
            self._mail(
                session,
                order,
                "purchase_order",
                f"po:{purchase.number}",
                extra={
                    "purchase_order_number": purchase.number or "",
                    "supplier_email": purchase.supplier_email,
                    "supplier_link": supplier_links.url(self.settings, purchase.number or ""),
                },
            )
        return [p.number for p in created if p.number]


def _entry(entry: TrailEntry) -> trail.Entry:
    return trail.Entry(
        key=entry.key,
        kind=entry.kind,
        message=entry.message,
        step=entry.step,
        status=OrderStatus(entry.status) if entry.status else None,
        current_step=entry.current_step,
        clear_step=entry.clear_step,
        actor=entry.actor,
        at=entry.at,
    )


def _payment_status(session: Session, order: SalesOrder) -> PaymentStatus:
    return PaymentStatus(
        invoiced=invoice_service.invoiced_total(session=session, order_id=order.id or 0),
        paid=invoice_service.paid_total(session=session, order_id=order.id or 0),
        credited=invoice_service.credited_total(session=session, order_id=order.id or 0),
    )


def _delivery_status(
    session: Session, order: SalesOrder, handled: list[int], sla_seconds: float | None = None
) -> DeliveryStatus:
    order_id = order.id or 0
    late: list[int] = []
    late_in: float | None = None
    if sla_seconds:
        late, late_in = shipping_service.late(
            session=session, order_id=order_id, within=timedelta(seconds=sla_seconds)
        )
    return DeliveryStatus(
        settled=shipping_service.settled(session=session, order_id=order_id, handled=handled),
        failed=shipping_service.failed_numbers(session=session, order_id=order_id),
        late=late,
        late_in_seconds=late_in,
    )


def _describe(shortages: list[StockNeed]) -> list[str]:
    return [f"{s.sku} short by {s.qty}" for s in shortages]


def _service_status(session: Session, order: SalesOrder) -> ServiceStatus:
    event = order_services.delivered(session=session, order=order)
    return ServiceStatus(delivered=event is not None, by=event.actor if event else None)


def _planned(route: StepRoute) -> PlannedStep:
    """A step's route as the workflow takes it: durations in seconds."""
    escalation_rule = route.escalation
    return PlannedStep(
        step=route.step,
        mode=route.mode,
        role=route.role,
        assign=route.assign,
        sla_seconds=_seconds(route.sla),
        fallback=route.fallback,
        remind_after_seconds=_seconds(escalation_rule.remind_after if escalation_rule else None),
        escalate_after_seconds=_seconds(escalation_rule.after if escalation_rule else None),
        escalation_action=escalation_rule.then if escalation_rule else None,
        escalation_role=escalation_rule.to_role if escalation_rule else None,
    )


def _seconds(duration: timedelta | None) -> float | None:
    return duration.total_seconds() if duration else None


def _quote_accepter(session: Session, order: SalesOrder) -> Actor:
    """Who accepted the order's quote: the completer of its quote task (the customer through
    the customer center, or staff for them), else the system."""
    accepted = [
        task
        for task in task_service.list_for_order(session=session, order_id=order.id or 0)
        if task.step == Step.QUOTE and task.outcome == "approved" and task.completed_by
    ]
    return Actor.on_behalf(accepted[-1].completed_by or "") if accepted else Actor.system()
