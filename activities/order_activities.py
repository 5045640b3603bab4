"""Order activities: step plan, progress and trail, invoice, payment status."""

from datetime import timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.common import load_order
from conveyor.core.db import session_scope
from conveyor.customer.models import Customer
from conveyor.inventory import service as inventory_service
from conveyor.invoice import service as invoice_service
from conveyor.invoice import shipment as shipment_invoicing
from conveyor.order import service as order_service
from conveyor.order.enums import OrderStatus
from conveyor.order.models import OrderEvent
from conveyor.order.routing import facts_for
from conveyor.purchasing import service as purchasing_service
from routing_rules.registry import RuleRegistry
from workflows.types import (
    AmendOrderInput,
    AmendResult,
    CreditCheckResult,
    InvoiceResult,
    KeyedOrderInput,
    OrderPlan,
    OrderRef,
    PaymentStatus,
    PlannedStep,
    RecordProgressInput,
    ShipmentInput,
    SiblingQuotes,
)


class OrderActivities:
    """Activities on the order row, its trail and its money; built once per worker."""

    def __init__(self, engine: Engine, rules: RuleRegistry) -> None:
        self.engine = engine
        self.rules = rules

    @activity.defn
    def plan_order(self, ref: OrderRef) -> OrderPlan:
        """Route the order with the rules in force and record the rule and version on it.

        A retry after the first success returns the same plan, because the order keeps its rule.
        """
        with session_scope(self.engine) as session:
            order = load_order(session, ref.order_number)
            facts = facts_for(
                session=session,
                channel=order.channel,
                customer_id=order.customer_id,
                lines=[
                    (line.sku, line.qty)
                    for line in order_service.lines(session=session, order_id=order.id)
                ],
                total=order.total,
            )
            decision = self.rules.current().decide(facts)
            order.rule, order.rules_version = decision.rule, decision.version
            session.add(order)
            order_service.add_event(
                session=session,
                key=f"{order.number}:routed",
                order=order,
                kind="routed",
                message=f"routed by rule {decision.rule} (rules {decision.version})",
            )
            plan = OrderPlan(
                rule=decision.rule,
                rules_version=decision.version,
                prepaid=order.prepaid,
                partial=order.allow_partial,
                drop_ship=bool(
                    purchasing_service.drop_ship_lines(session=session, order_id=order.id or 0)
                ),
                steps=[
                    PlannedStep(
                        step=s.step,
                        mode=s.mode,
                        role=s.role,
                        assign=s.assign,
                        sla_seconds=s.sla.total_seconds() if s.sla else None,
                        fallback=s.fallback,
                        remind_after_seconds=_seconds(s.escalation and s.escalation.remind_after),
                        escalate_after_seconds=_seconds(s.escalation and s.escalation.after),
                        escalation_action=s.escalation.then if s.escalation else None,
                        escalation_role=s.escalation.to_role if s.escalation else None,
                    )
                    for s in decision.steps
                ],
            )
            return _with_review(order.needs_review, plan)

    @activity.defn
    def record_progress(self, progress: RecordProgressInput) -> None:
        """Move the order's status/step and append to its trail (once per key)."""
        with session_scope(self.engine) as session:
            order = load_order(session, progress.order_number)
            order_service.add_event(
                session=session,
                key=progress.key,
                order=order,
                kind=progress.kind,
                message=progress.message,
                step=progress.step,
                actor=progress.actor,
            )
            order_service.set_state(
                session=session,
                order=order,
                status=OrderStatus(progress.status) if progress.status else None,
                current_step=progress.current_step,
                clear_step=progress.clear_step,
            )

    @activity.defn
    def create_invoice(self, request: KeyedOrderInput) -> InvoiceResult:
        """Invoice the order (once per key)."""
        with session_scope(self.engine) as session:
            order = load_order(session, request.order_number)
            invoice = invoice_service.create_for_order(
                session=session, key=request.key, order=order
            )
            return InvoiceResult(number=invoice.number, total=invoice.total)

    @activity.defn
    def create_shipment_invoice(self, request: ShipmentInput) -> InvoiceResult:
        """Invoice what one shipment packed (once per shipment)."""
        with session_scope(self.engine) as session:
            order = load_order(session, request.order_number)
            goods = [
                (g.sku, g.qty)
                for g in inventory_service.committed_under(
                    session=session, key=f"{order.number}:commit:s{request.shipment}"
                )
            ]
            if request.last:  # what the suppliers shipped is billed with the last shipment
                drop_ship = purchasing_service.drop_ship_lines(session=session, order_id=order.id)
                goods += [(line.sku, line.qty) for line in drop_ship]
            invoice = shipment_invoicing.create_for_shipment(
                session=session,
                key=f"{order.number}:invoice:s{request.shipment}",
                order=order,
                goods=goods,
                first=request.shipment == 1,
                last=request.last,
            )
            return InvoiceResult(number=invoice.number, total=invoice.total)

    @activity.defn
    def record_prepayment(self, request: KeyedOrderInput) -> None:
        """Record the payment a prepaid order brought with it: what is invoiced and unpaid."""
        with session_scope(self.engine) as session:
            order = load_order(session, request.order_number)
            invoiced = invoice_service.invoiced_total(session=session, order_id=order.id)
            paid = invoice_service.paid_total(session=session, order_id=order.id)
            due = invoiced - paid
            if due > Decimal("0"):
                invoice_service.record_payment(
                    session=session, key=request.key, order=order, amount=due, method="prepaid"
                )

    @activity.defn
    def amend_order(self, request: AmendOrderInput) -> AmendResult:
        """Replace the order's lines (once per key), with before/after in the trail."""
        with session_scope(self.engine) as session:
            order = load_order(session, request.order_number)
            done = session.exec(select(OrderEvent).where(OrderEvent.key == request.key)).first()
            if done is not None:
                return AmendResult(total=order.total, summary=done.message)
            try:
                before, after = order_service.replace_lines(
                    session=session,
                    order=order,
                    lines=[(line.sku, line.qty) for line in request.lines],
                )
            except order_service.OrderError as exc:
                raise ApplicationError(str(exc), type="InvalidRequest", non_retryable=True) from exc
            summary = f"lines amended: {before} -> {after}"
            order_service.add_event(
                session=session,
                key=request.key,
                order=order,
                kind="amended",
                message=summary,
                actor=request.actor,
            )
            return AmendResult(total=order.total, summary=summary)

    @activity.defn
    def check_credit(self, ref: OrderRef) -> CreditCheckResult:
        """Open receivables plus this order against the customer's credit limit.

        A limit of 0 means the customer has no credit terms to watch (prepaid or cash).
        """
        with session_scope(self.engine) as session:
            order = load_order(session, ref.order_number)
            customer = session.get(Customer, order.customer_id)
            limit = customer.credit_limit if customer else Decimal("0")
            if order.prepaid or limit <= 0:
                return CreditCheckResult(
                    approved=True, credit_limit=limit, reason="no credit terms"
                )
            exposure = order.total + invoice_service.open_receivables(
                session=session, customer_id=order.customer_id, exclude_order_id=order.id
            )
            approved = exposure <= limit
            reason = f"exposure {exposure} {'within' if approved else 'over'} limit {limit}"
            return CreditCheckResult(approved, credit_limit=limit, exposure=exposure, reason=reason)

    @activity.defn
    def check_payment(self, ref: OrderRef) -> PaymentStatus:
        """How much of the order is invoiced, credited and paid."""
        with session_scope(self.engine) as session:
            order = load_order(session, ref.order_number)
            return PaymentStatus(
                invoiced=invoice_service.invoiced_total(session=session, order_id=order.id),
                paid=invoice_service.paid_total(session=session, order_id=order.id),
                credited=invoice_service.credited_total(session=session, order_id=order.id),
            )

    @activity.defn
    def find_sibling_quotes(self, ref: OrderRef) -> SiblingQuotes:
        """The other open quotes of the order's opportunity (read only, so safe to retry)."""
        with session_scope(self.engine) as session:
            order = load_order(session, ref.order_number)
            siblings = order_service.sibling_quotes(session=session, order=order)
            return SiblingQuotes([o.number for o in siblings if o.number])


# A web order that arrived with something to check (unknown SKU, no e-mail) stops at the stock
# check for the order desk, who can amend the lines (allowed until allocation) or reject it.
REVIEW_ROLE = "order_desk"


def _with_review(needs_review: bool, plan: OrderPlan) -> OrderPlan:
    if needs_review:
        plan.steps = [
            PlannedStep(step=p.step, mode="task", role=REVIEW_ROLE, assign="round_robin")
            if p.step == "stock_check"
            else p
            for p in plan.steps
        ]
    return plan


def _seconds(duration: timedelta | None) -> float | None:
    return duration.total_seconds() if duration else None
