"""The order as people read it: lines, totals, money received, tasks and trail in one model.

Shared by the JSON view and the order pages, so both show the same numbers.
"""

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from conveyor.core.db import contains_text
from conveyor.core.errors import NotFound
from conveyor.customer import read as customer_read
from conveyor.customer.models import Customer
from conveyor.invoice import service as invoice_service
from conveyor.invoice.models import PaymentPublic
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
    ShipToPublic,
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
        ship_to=ship_to(order),
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
        payments=[
            PaymentPublic.model_validate(payment)
            for payment in invoice_service.payments(session=session, order_id=order.id)
        ],
        tasks=[
            OrderTaskPublic.model_validate(task)
            for task in task_service.list_for_order(session=session, order_id=order.id)
        ],
        events=[
            OrderEventPublic.model_validate(event)
            for event in order_service.events(session=session, order_id=order.id)
        ],
    )


def ship_to(order: SalesOrder) -> ShipToPublic | None:
    """The address the order ships to, as recorded on it (None: none was given)."""
    if not order.ship_to_line1:
        return None
    return ShipToPublic(
        name=order.ship_to_name,
        line1=order.ship_to_line1,
        line2=order.ship_to_line2,
        city=order.ship_to_city,
        region=order.ship_to_region,
        postcode=order.ship_to_postcode,
        country=order.ship_to_country,
    )


def get_public(session: Session, number: str) -> OrderPublic:
    """The full view of the order with that number; NotFound otherwise."""
    return order_public(session, load(session, number))


# The staff order list (pages/lists.py): its sort columns and its filtered query.
SORTS: dict[str, Any] = {
    "number": col(SalesOrder.id),
    "customer": col(Customer.name),
    "channel": col(SalesOrder.channel),
    "status": col(SalesOrder.status),
    "step": col(SalesOrder.current_step),
    "total": col(SalesOrder.total),
    "created": col(SalesOrder.created_at),
}


def search(
    *,
    number: str | None = None,
    status: str | None = None,
    step: str | None = None,
    channel: str | None = None,
    customer: str | None = None,
    since: datetime | None = None,
    before: datetime | None = None,
    account_rep_id: int | None = None,
) -> Any:
    """(order, customer) rows matching the filters (created in [since, before));
    `account_rep_id`: only the orders of customers that rep owns (the sales record rule)."""
    query = select(SalesOrder, Customer).join(
        Customer, col(Customer.id) == col(SalesOrder.customer_id)
    )
    if account_rep_id is not None:
        query = query.where(col(Customer.account_rep_id) == account_rep_id)
    if number:
        query = query.where(contains_text(col(SalesOrder.number), number))
    if status:
        query = query.where(col(SalesOrder.status) == status)
    if step:
        query = query.where(col(SalesOrder.current_step) == step)
    if channel:
        query = query.where(col(SalesOrder.channel) == channel)
    if customer:
        query = query.where(customer_read.matches(customer))
    if since is not None:
        query = query.where(col(SalesOrder.created_at) >= since)
    if before is not None:
        query = query.where(col(SalesOrder.created_at) < before)
    return query
