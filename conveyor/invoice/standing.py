"""An invoice's standing: its due date (set at issue by the payment terms), paid or open."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlmodel import Session, col, func, select

from conveyor.core.models import utcnow
from conveyor.customer.models import Customer
from conveyor.invoice import service as invoice_service
from conveyor.invoice.models import CreditNote, Invoice
from conveyor.order.models import SalesOrder

ZERO = Decimal("0.00")
DEFAULT_TERMS_DAYS = 30


@dataclass(frozen=True)
class InvoiceStanding:
    """When the invoice is due, what of it is still open, and its status word."""

    due_on: date
    terms_days: int
    amount_due: Decimal
    status: str  # paid | open | overdue | credited


def payment_due(*, issued_at: datetime, terms_days: int) -> date:
    """The day an invoice issued then falls due under `terms_days` payment terms."""
    return (issued_at + timedelta(days=terms_days)).date()


def due_on(invoice: Invoice, customer: Customer | None) -> date:
    """The invoice's due day: its `due_at`, or (issued before due dates were kept) its issue
    day plus the customer's payment-terms days."""
    if invoice.due_at is not None:
        return invoice.due_at.astimezone(UTC).date()
    terms = customer.payment_terms_days if customer else DEFAULT_TERMS_DAYS
    return payment_due(issued_at=invoice.issued_at, terms_days=terms)


def _credited(session: Session, invoice_id: int) -> Decimal:
    total = session.exec(
        select(func.coalesce(func.sum(CreditNote.total), 0)).where(
            col(CreditNote.invoice_id) == invoice_id
        )
    ).one()
    return Decimal(total)


def standing(*, session: Session, invoice: Invoice, today: date | None = None) -> InvoiceStanding:
    """The invoice's standing: the order's payments settle its invoices oldest first."""
    order = session.get(SalesOrder, invoice.order_id)
    customer = session.get(Customer, order.customer_id) if order else None
    due = due_on(invoice, customer)
    terms = (due - invoice.issued_at.astimezone(UTC).date()).days
    payments = invoice_service.paid_total(session=session, order_id=invoice.order_id)
    amount_due = ZERO
    for earlier in invoice_service.list_for_order(session=session, order_id=invoice.order_id):
        owed = max(earlier.total - _credited(session, earlier.id or 0), ZERO)
        settled = min(owed, payments)
        payments -= settled
        if earlier.id == invoice.id:
            amount_due = owed - settled
            break
    credited = _credited(session, invoice.id or 0)
    if credited and credited >= invoice.total:
        status = "credited"
    elif amount_due == ZERO:
        status = "paid"
    elif (today or utcnow().date()) > due:
        status = "overdue"
    else:
        status = "open"
    return InvoiceStanding(due_on=due, terms_days=terms, amount_due=amount_due, status=status)
