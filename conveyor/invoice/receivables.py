"""Receivables: the credit check against a customer's limit, and settling a prepaid order."""

from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import Session

from conveyor.audit.service import Actor
from conveyor.core.models import row_id
from conveyor.customer.models import Customer
from conveyor.invoice import service as invoice_service
from conveyor.invoice.models import Payment
from conveyor.order.models import SalesOrder

ZERO = Decimal("0")


@dataclass(frozen=True)
class CreditCheck:
    """Whether the order fits the customer's credit limit, and the exposure that decided it."""

    approved: bool
    credit_limit: Decimal
    exposure: Decimal
    reason: str


def check_credit(*, session: Session, order: SalesOrder) -> CreditCheck:
    """Open receivables plus this order against the customer's credit limit.

    A limit of 0 means the customer has no credit terms to watch (prepaid or cash).
    """
    customer = session.get(Customer, order.customer_id)
    limit = customer.credit_limit if customer else ZERO
    if order.prepaid or limit <= 0:
        return CreditCheck(True, credit_limit=limit, exposure=ZERO, reason="no credit terms")
    exposure = order.total + invoice_service.open_receivables(
        session=session, customer_id=order.customer_id, exclude_order_id=order.id
    )
    approved = exposure <= limit
    reason = f"exposure {exposure} {'within' if approved else 'over'} limit {limit}"
    return CreditCheck(approved, credit_limit=limit, exposure=exposure, reason=reason)


def settle_prepaid(*, session: Session, key: str, order: SalesOrder) -> Payment | None:
    """Record the payment a prepaid order brought with it: what is invoiced and unpaid, once.

    None when nothing is due.
    """
    invoiced = invoice_service.invoiced_total(session=session, order_id=row_id(order))
    paid = invoice_service.paid_total(session=session, order_id=row_id(order))
    due = invoiced - paid
    if due <= ZERO:
        return None
    return invoice_service.record_payment(
        session=session,
        key=key,
        order=order,
        amount=due,
        method="prepaid",
        actor=Actor.system(),  # the workflow settles what the store or provider collected
    )
