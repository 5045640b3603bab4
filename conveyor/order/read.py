"""The order as people read it: lines, totals, money received, tasks and trail in one model.

Shared by the JSON view and the order pages, so both show the same numbers.
"""

from decimal import Decimal

from sqlmodel import Session

from conveyor.core.errors import NotFound
from conveyor.invoice import service as invoice_service
from conveyor.order import service as order_service
from conveyor.order.models import (
    OrderChargePublic,
    OrderEventPublic,
    OrderLinePublic,
    OrderPublic,
    OrderSummary,
    OrderTaskPublic,
    OrderTotals,
    SalesOrder,
)
from conveyor.task import service as task_service


def load(session: Session, number: str) -> SalesOrder:
    """The order with that number; NotFound otherwise."""
    order = order_service.get_by_number(session=session, number=number)
    if order is None:
        raise NotFound(f"order {number} not found")
    return order


def money_received(session: Session, order_id: int) -> dict[str, Decimal]:
    """Invoiced, paid and credited so far, and the balance the customer still owes."""
    invoiced = invoice_service.invoiced_total(session=session, order_id=order_id)
    paid = invoice_service.paid_total(session=session, order_id=order_id)
    credited = invoice_service.credited_total(session=session, order_id=order_id)
    return {
        "invoiced": invoiced,
        "paid": paid,
        "credited": credited,
        "balance": invoiced - credited - paid,
    }


def order_public(session: Session, order: SalesOrder) -> OrderPublic:
    """The full view of an order: lines, totals, tasks and trail."""
    return OrderPublic(
        **OrderSummary.model_validate(order).model_dump(),
        rule=order.rule,
        rules_version=order.rules_version,
        lines=[
            OrderLinePublic.model_validate(line)
            for line in order_service.lines(session=session, order_id=order.id)
        ],
        charges=[
            OrderChargePublic.model_validate(charge)
            for charge in order_service.charges(session=session, order_id=order.id)
        ],
        totals=OrderTotals(
            currency=order.currency,
            subtotal=order.subtotal,
            discount=order.discount_total,
            charges=order.charges_total,
            tax=order.tax_total,
            tax_included=order.prices_include_tax,
            total=order.total,
            **money_received(session, order.id),
        ),
        tasks=[
            OrderTaskPublic.model_validate(task)
            for task in task_service.list_for_order(session=session, order_id=order.id)
        ],
        events=[
            OrderEventPublic.model_validate(event)
            for event in order_service.events(session=session, order_id=order.id)
        ],
    )


def get_public(session: Session, number: str) -> OrderPublic:
    """The full view of the order with that number; NotFound otherwise."""
    return order_public(session, load(session, number))
