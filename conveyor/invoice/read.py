"""The invoice as people read it, line by line: shared by the JSON view and the invoice pages."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Date, case, func, literal
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from conveyor.core.errors import NotFound
from conveyor.customer import read as customer_read
from conveyor.customer.models import Customer
from conveyor.invoice import service as invoice_service
from conveyor.invoice import standing
from conveyor.invoice.models import (
    CreditNote,
    Invoice,
    InvoiceDetail,
    InvoiceLinePublic,
    InvoicePublic,
    Payment,
)
from conveyor.order.models import SalesOrder
from conveyor.terms import service as terms_service


def load(session: Session, number: str) -> Invoice:
    """The invoice with that number; NotFound otherwise."""
    invoice = invoice_service.get_by_number(session=session, number=number)
    if invoice is None:
        raise NotFound(f"invoice {number} not found")
    return invoice


def invoice_detail(session: Session, invoice: Invoice) -> InvoiceDetail:
    """The invoice as issued, line by line."""
    order = session.get(SalesOrder, invoice.order_id)
    customer = session.get(Customer, order.customer_id) if order else None
    return InvoiceDetail(
        **InvoicePublic.model_validate(invoice).model_dump(),
        order_number=order.number if order and order.number else "",
        due_on=standing.due_on(invoice, customer),
        terms=terms_words(session, invoice, customer),
        lines=[
            InvoiceLinePublic.model_validate(line)
            for line in invoice_service.lines(session=session, invoice_id=invoice.id or 0)
        ],
    )


def terms_words(session: Session, invoice: Invoice, customer: Customer | None) -> str:
    """The terms the invoice was issued under, in words: its template's (when it still exists),
    else the net days from issue to due."""
    template = (
        terms_service.get_by_code(session=session, code=invoice.terms_code)
        if invoice.terms_code
        else None
    )
    if template is not None:
        return f"{template.code}: {terms_service.describe_terms(template)}"
    due = standing.due_on(invoice, customer)
    return terms_service.describe(net_days=(due - invoice.issued_at.astimezone(UTC).date()).days)


class PaymentState(StrEnum):
    """Where an invoice stands (as invoice/standing.py words it for one invoice): the order's
    payments settle its invoices oldest first."""

    PAID = "paid"
    OPEN = "open"  # not (fully) paid, within the customer's payment terms
    OVERDUE = "overdue"  # not (fully) paid, past the due date
    CREDITED = "credited"  # cancelled by credit notes for its whole amount


# Below a cent is settled (SQLite sums money as floating point).
SETTLED = 0.005


def _sum(column: Any, *where: Any) -> Any:
    return select(func.coalesce(func.sum(column), 0)).where(*where).scalar_subquery()


def _days_late(session: Session, now: datetime, column: Any) -> Any:
    """SQL: whole UTC days from the day of `column` (a timestamp) to the day of `now`."""
    today = now.astimezone(UTC).date()
    if session.get_bind().dialect.name == "postgresql":
        return literal(today, Date()) - func.date(func.timezone("UTC", column))
    return func.julianday(today.isoformat()) - func.julianday(func.date(column))


def days_past_due(session: Session, now: datetime) -> Any:
    """SQL: whole days the invoice is past its due day (0 on it, below 0 before it); invoices
    without `due_at` (issued before due dates were kept): issue day + the customer's days.
    Needs Invoice and its order's Customer in the query."""
    return case(
        (col(Invoice.due_at).is_not(None), _days_late(session, now, col(Invoice.due_at))),
        else_=_days_late(session, now, col(Invoice.issued_at)) - col(Customer.payment_terms_days),
    )


def owed_through() -> Any:
    """SQL: owed on this invoice and the order's earlier ones, less all the order's payments
    (the order's payments settle its invoices oldest first)."""
    earlier = aliased(Invoice)
    return (
        _sum(earlier.total, earlier.order_id == Invoice.order_id, col(earlier.id) <= Invoice.id)
        - _sum(
            CreditNote.total,
            col(CreditNote.order_id) == col(Invoice.order_id),
            col(CreditNote.invoice_id) <= Invoice.id,
        )
        - _sum(Payment.amount, col(Payment.order_id) == col(Invoice.order_id))
    )


def open_amount() -> Any:
    """SQL: what is still open on the invoice (0 when paid or credited, at most its total less
    its own credit notes)."""
    net = col(Invoice.total) - _sum(CreditNote.total, col(CreditNote.invoice_id) == col(Invoice.id))
    owed = owed_through()
    return case((owed < SETTLED, 0), (net < SETTLED, 0), (owed > net, net), else_=owed)


def payment_state(session: Session, now: datetime) -> Any:
    """SQL: the invoice's PaymentState (with Invoice and its order's Customer in the query)."""
    own_credit = _sum(CreditNote.total, col(CreditNote.invoice_id) == col(Invoice.id))
    owed = owed_through()
    # Overdue from the day after the due day, as invoice/standing.py has it.
    late = days_past_due(session, now) > 0
    return case(
        (col(Invoice.total) - own_credit < SETTLED, PaymentState.CREDITED.value),
        (owed < SETTLED, PaymentState.PAID.value),
        (late, PaymentState.OVERDUE.value),
        else_=PaymentState.OPEN.value,
    )


def search(
    session: Session,
    *,
    now: datetime,
    status: str | None = None,
    customer: str | None = None,
    order: str | None = None,
    account_rep_id: int | None = None,
) -> Any:
    """(invoice, order number, customer, payment state) rows matching the filters;
    `account_rep_id`: only invoices of customers that rep owns (the sales record rule)."""
    state = payment_state(session, now).label("payment_state")
    query = (
        select(Invoice, SalesOrder.number, Customer, state)
        .join(SalesOrder, col(SalesOrder.id) == col(Invoice.order_id))
        .join(Customer, col(Customer.id) == col(SalesOrder.customer_id))
    )
    if account_rep_id is not None:
        query = query.where(col(Customer.account_rep_id) == account_rep_id)
    if status:
        query = query.where(payment_state(session, now) == status)
    if customer:
        query = query.where(customer_read.matches(customer))
    if order:
        query = query.where(col(SalesOrder.number) == order)
    return query


def sorts(session: Session, now: datetime) -> dict[str, Any]:
    """The invoice list's sort columns."""
    return {
        "number": col(Invoice.id),
        "order": col(SalesOrder.number),
        "customer": col(Customer.name),
        "issued": col(Invoice.issued_at),
        "total": col(Invoice.total),
        "status": payment_state(session, now),
    }
