"""Order activities: step plan, progress and trail, invoice, payment status."""

from datetime import timedelta

from sqlalchemy.engine import Engine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.common import load_order
from conveyor.core.db import session_scope
from conveyor.core.models import row_id
from conveyor.inventory import service as inventory_service
from conveyor.invoice import receivables
from conveyor.invoice import service as invoice_service
from conveyor.invoice import shipment as shipment_invoicing
from conveyor.order import amendment, planning
from conveyor.order import service as order_service
from conveyor.order.enums import OrderStatus
from conveyor.purchasing import service as purchasing_service
from routing_rules.models import StepRoute
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
            route = planning.route(session=session, order=order, rules=self.rules.current())
            return OrderPlan(
                rule=route.rule,
                rules_version=route.version,
                prepaid=order.prepaid,
                partial=order.allow_partial,
                drop_ship=route.drop_ship,
                steps=[_planned(s) for s in route.steps],
            )

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
                drop_ship = purchasing_service.drop_ship_lines(
                    session=session, order_id=row_id(order)
                )
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
            receivables.settle_prepaid(session=session, key=request.key, order=order)

    @activity.defn
    def amend_order(self, request: AmendOrderInput) -> AmendResult:
        """Replace the order's lines (once per key), with before/after in the trail."""
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
            return AmendResult(total=order.total, summary=summary)

    @activity.defn
    def check_credit(self, ref: OrderRef) -> CreditCheckResult:
        """Open receivables plus this order against the customer's credit limit."""
        with session_scope(self.engine) as session:
            order = load_order(session, ref.order_number)
            credit = receivables.check_credit(session=session, order=order)
            return CreditCheckResult(
                approved=credit.approved,
                credit_limit=credit.credit_limit,
                exposure=credit.exposure,
                reason=credit.reason,
            )

    @activity.defn
    def check_payment(self, ref: OrderRef) -> PaymentStatus:
        """How much of the order is invoiced, credited and paid."""
        with session_scope(self.engine) as session:
            order = load_order(session, ref.order_number)
            return PaymentStatus(
                invoiced=invoice_service.invoiced_total(session=session, order_id=row_id(order)),
                paid=invoice_service.paid_total(session=session, order_id=row_id(order)),
                credited=invoice_service.credited_total(session=session, order_id=row_id(order)),
            )

    @activity.defn
    def find_sibling_quotes(self, ref: OrderRef) -> SiblingQuotes:
        """The other open quotes of the order's opportunity (read only, so safe to retry)."""
        with session_scope(self.engine) as session:
            order = load_order(session, ref.order_number)
            siblings = order_service.sibling_quotes(session=session, order=order)
            return SiblingQuotes([o.number for o in siblings if o.number])


def _planned(route: StepRoute) -> PlannedStep:
    """A step's route as the workflow takes it: durations in seconds."""
    escalation = route.escalation
    return PlannedStep(
        step=route.step,
        mode=route.mode,
        role=route.role,
        assign=route.assign,
        sla_seconds=_seconds(route.sla),
        fallback=route.fallback,
        remind_after_seconds=_seconds(escalation.remind_after if escalation else None),
        escalate_after_seconds=_seconds(escalation.after if escalation else None),
        escalation_action=escalation.then if escalation else None,
        escalation_role=escalation.to_role if escalation else None,
    )


def _seconds(duration: timedelta | None) -> float | None:
    return duration.total_seconds() if duration else None
