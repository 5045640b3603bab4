"""A customer's statement: opening balance, invoices, payments and credit notes in a period,
closing balance and ageing; as data and as a PDF document."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from fpdf import FPDF
from sqlmodel import Session, col, select

from conveyor.core import pdf
from conveyor.core.errors import Invalid
from conveyor.core.models import round_money
from conveyor.customer.models import Customer
from conveyor.invoice import ageing as invoice_ageing
from conveyor.invoice.models import DISCOUNT_METHOD, CreditNote, Invoice, Payment
from conveyor.invoice.pdf import bill_to_lines
from conveyor.order.models import SalesOrder

ZERO = Decimal("0.00")
COLUMNS = (
    pdf.Column(22, "Date"),
    pdf.Column(26, "Type"),
    pdf.Column(42, "Document"),
    pdf.Column(30, "Charges", "R"),
    pdf.Column(30, "Credits", "R"),
    pdf.Column(36, "Balance", "R"),
)


@dataclass(frozen=True)
class StatementLine:
    """One document in the period: what it adds to (charges) or takes off (credits) the balance."""

    at: datetime
    kind: str  # invoice | credit note | payment | refund | discount
    document: str
    order: str
    charges: Decimal
    credits: Decimal
    balance: Decimal


@dataclass(frozen=True)
class Statement:
    customer: Customer
    currency: str
    start: date
    end: date
    opening: Decimal
    lines: list[StatementLine]
    closing: Decimal
    ageing: tuple[Decimal, ...]  # invoice/ageing.py BUCKETS, open today


DEFAULT_DAYS = 90
MAX_DAYS = 3660


def period(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The statement period asked for: by default the last 90 days to today; Invalid when the
    end is before the start or it is over ten years long."""
    end = end or today
    start = start or end - timedelta(days=DEFAULT_DAYS)
    if end < start:
        raise Invalid("the period ends before it starts")
    if (end - start).days > MAX_DAYS:
        raise Invalid("a statement covers at most ten years")
    return start, end


def form_defaults() -> dict[str, str]:
    """The statement form's default period (`statement_from`, `statement_to`) as ISO dates."""
    start, end = period(None, None, datetime.now(UTC).date())
    return {"statement_from": start.isoformat(), "statement_to": end.isoformat()}


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return (
        datetime.combine(start, time.min, tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC),
    )


def _currencies(session: Session, customer_id: int, fallback: str) -> list[str]:
    """The currencies the customer was invoiced in, that of the latest invoice first."""
    found: list[str] = []
    for currency in session.exec(
        select(Invoice.currency)
        .join(SalesOrder, col(SalesOrder.id) == col(Invoice.order_id))
        .where(SalesOrder.customer_id == customer_id)
        .order_by(col(Invoice.id).desc())
    ):
        if currency not in found:
            found.append(currency)
    return found or [fallback]


def _documents(
    session: Session, customer_id: int, currency: str, high: datetime
) -> list[tuple[datetime, str, str, str, Decimal]]:
    """(when, kind, document, order, signed amount) of the customer's documents before `high`:
    invoices add to the balance; credit notes, payments and discounts take off it."""
    found: list[tuple[datetime, str, str, str, Decimal]] = []
    theirs = SalesOrder.customer_id == customer_id
    for invoice, number in session.exec(
        select(Invoice, SalesOrder.number)
        .join(SalesOrder, col(SalesOrder.id) == col(Invoice.order_id))
        .where(theirs, Invoice.currency == currency, col(Invoice.issued_at) < high)
    ):
        found.append((invoice.issued_at, "invoice", invoice.number, number or "", invoice.total))
    for note, number in session.exec(
        select(CreditNote, SalesOrder.number)
        .join(SalesOrder, col(SalesOrder.id) == col(CreditNote.order_id))
        .where(theirs, CreditNote.currency == currency, col(CreditNote.issued_at) < high)
    ):
        found.append((note.issued_at, "credit note", note.number, number or "", -note.total))
    for payment, number in session.exec(
        select(Payment, SalesOrder.number)
        .join(SalesOrder, col(SalesOrder.id) == col(Payment.order_id))
        .where(theirs, Payment.currency == currency, col(Payment.received_at) < high)
    ):
        if payment.method == DISCOUNT_METHOD:
            kind, document = "discount", f"DSC-{payment.id:06d} {payment.reference or ''}"
        else:
            kind = "refund" if payment.amount < 0 else "payment"
            document = f"PAY-{payment.id:06d}"
        found.append((payment.received_at, kind, document.strip(), number or "", -payment.amount))
    order = {"invoice": 0, "credit note": 1, "payment": 2, "refund": 2, "discount": 3}
    return sorted(found, key=lambda d: (d[0], order[d[1]], d[2]))


def statements(
    *, session: Session, customer: Customer, start: date, end: date, fallback_currency: str
) -> list[Statement]:
    """The customer's statement for `start`..`end` (inclusive, UTC days): one per currency
    they were invoiced in (the latest invoice's first; `fallback_currency` for a customer with
    none); the ageing line is what is open today."""
    low, high = _bounds(start, end)
    customer_id = customer.id or 0
    rows = invoice_ageing.ageing(session=session, now=datetime.now(UTC), customer_id=customer_id)
    found: list[Statement] = []
    for currency in _currencies(session, customer_id, fallback_currency):
        opening = ZERO
        lines: list[StatementLine] = []
        balance = ZERO
        for at, kind, document, order, amount in _documents(session, customer_id, currency, high):
            if at < low:
                opening += amount
                balance = opening
                continue
            balance += amount
            charges, credits = (amount, ZERO) if amount > 0 else (ZERO, -amount)
            lines.append(StatementLine(at, kind, document, order, charges, credits, balance))
        row = next((r for r in rows if r.currency == currency), None)
        buckets = row.buckets if row else tuple(ZERO for _ in invoice_ageing.BUCKETS)
        found.append(
            Statement(
                customer=customer,
                currency=currency,
                start=start,
                end=end,
                opening=round_money(opening),
                lines=lines,
                closing=round_money(balance),
                ageing=buckets,
            )
        )
    return found


def render(*, session: Session, statements: list[Statement]) -> bytes:
    """The statements as PDF bytes, a page per currency: bill-to, period, opening balance,
    documents, closing balance and the ageing of what is still open."""
    out = pdf.document(f"Statement of account {statements[0].customer.name}")
    for n, one in enumerate(statements):
        if n:
            out.add_page()
        _section(out, session, one)
    return pdf.output(out)


def _section(out: FPDF, session: Session, s: Statement) -> None:
    pdf.lines(out, ["Statement for:", *bill_to_lines(session, s.customer)], bold_first=True)
    out.ln(3)
    pdf.lines(
        out,
        [
            f"Customer number: {s.customer.id}",
            f"Period: {s.start:%Y-%m-%d} to {s.end:%Y-%m-%d}",
            f"Currency: {s.currency}",
            f"Opening balance: {s.opening:.2f} {s.currency}",
        ],
    )
    out.ln(3)
    rows = [
        (
            f"{line.at:%Y-%m-%d}",
            line.kind,
            line.document,
            f"{line.charges:.2f}" if line.charges else "",
            f"{line.credits:.2f}" if line.credits else "",
            f"{line.balance:.2f}",
        )
        for line in s.lines
    ]
    pdf.table(out, COLUMNS, rows or [("", "no documents in this period", "", "", "", "")])
    out.ln(3)
    pdf.totals(out, [("Opening balance", s.opening), ("Closing balance", s.closing)], s.currency)
    out.ln(4)
    labels = [label for label, _, _ in invoice_ageing.BUCKETS]
    ageing = ", ".join(
        f"{label}: {amount:.2f}" for label, amount in zip(labels, s.ageing, strict=True)
    )
    pdf.lines(out, [f"Ageing today (days past due, {s.currency}):", ageing], bold_first=True)
    company = pdf.seller()
    if company.bank_details:
        out.ln(6)
        pdf.lines(out, ["Payment to:", *company.bank_details], bold_first=True)


def document(
    *,
    session: Session,
    customer: Customer,
    start: date | None,
    end: date | None,
    fallback_currency: str,
) -> tuple[bytes, str]:
    """The customer's statement for the period asked (`period`) as PDF bytes and file name."""
    start, end = period(start, end, datetime.now(UTC).date())
    found = statements(
        session=session,
        customer=customer,
        start=start,
        end=end,
        fallback_currency=fallback_currency,
    )
    return render(session=session, statements=found), f"statement-{customer.id}-{start}-{end}.pdf"
