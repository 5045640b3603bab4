"""The journal: balanced postings for invoices, credit notes, payments, goods received at cost
and the cost of goods packed, in a date range."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TypedDict

from sqlmodel import Session, col, select

from conveyor.accounting import payables
from conveyor.accounting.mapping import AccountMap
from conveyor.accounting.posting import Posting
from conveyor.core import spreadsheet
from conveyor.core.models import round_money
from conveyor.inventory.models import Product, StockMovement
from conveyor.invoice.models import (
    DISCOUNT_METHOD,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    Payment,
)
from conveyor.order.models import SalesOrder

COLUMNS = [
    "date",
    "journal",
    "document_type",
    "document",
    "order",
    "customer_id",
    "account",
    "description",
    "debit",
    "credit",
    "currency",
]
ZERO = Decimal("0.00")


class _PostingHead(TypedDict):
    """The fields a payment's two postings share."""

    date: date
    journal: str
    document_type: str
    document: str
    order: str
    customer_id: int
    currency: str


def _window(start: date, end: date) -> tuple[datetime, datetime]:
    # Both dates inclusive, in UTC.
    return (
        datetime.combine(start, time.min, tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC),
    )


def _revenue_split(
    session: Session,
    invoice: Invoice,
    mapping: AccountMap,
    lines: Sequence[InvoiceLine | CreditNoteLine] | None = None,
) -> dict[tuple[str, str], Decimal]:
    """Credits of an invoice by (account, description): net revenue, charges, tax.

    With `lines` (a partial credit note's), only those lines, at their invoice's tax treatment.
    """
    credits: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    if lines is None:
        invoice_lines: list[InvoiceLine] = list(
            session.exec(
                select(InvoiceLine)
                .where(InvoiceLine.invoice_id == invoice.id)
                .order_by(col(InvoiceLine.id))
            )
        )
        lines = invoice_lines
    if not lines:  # an invoice issued before invoice lines existed
        net = invoice.subtotal + invoice.charges
        if invoice.prices_include_tax:
            net -= invoice.tax
        credits[(mapping.accounts.revenue, "revenue")] += net
        if invoice.tax:
            credits[(mapping.accounts.tax, "tax")] += invoice.tax
        return credits
    skus = {line.sku for line in lines if line.sku}
    groups = {
        p.sku: p.item_group for p in session.exec(select(Product).where(col(Product.sku).in_(skus)))
    }
    for line in lines:
        net = line.amount - line.tax_amount if invoice.prices_include_tax else line.amount
        if line.kind == "item":
            key = (mapping.revenue_for(groups.get(line.sku or "")), "revenue")
        elif line.kind == "shipping":
            key = (mapping.accounts.shipping, "shipping")
        elif line.kind == "adjustment":
            key = (mapping.accounts.adjustments, "not itemised")
        else:
            key = (mapping.accounts.special_charges, "special charges")
        credits[key] += net
        if line.tax_amount:
            rate = f"{line.tax_rate.normalize():f}"
            credits[(mapping.tax_for(line.tax_class), f"tax {rate}%")] += line.tax_amount
    return credits


def _document_postings(
    *,
    session: Session,
    invoice: Invoice,
    mapping: AccountMap,
    document_type: str,
    document: str,
    on: date,
    order: SalesOrder | None,
    reverse: bool,
    total: Decimal | None = None,
    lines: Sequence[InvoiceLine | CreditNoteLine] | None = None,
) -> list[Posting]:
    def post(account: str, description: str, debit: Decimal, credit: Decimal) -> Posting:
        if reverse:
            debit, credit = credit, debit
        return Posting(
            date=on,
            journal=mapping.journals.sales,
            document_type=document_type,
            document=document,
            order=(order.number or "") if order else "",
            customer_id=order.customer_id if order else 0,
            account=account,
            description=description,
            debit=round_money(debit),
            credit=round_money(credit),
            currency=invoice.currency,
        )

    receivable = invoice.total if total is None else total
    postings = [post(mapping.accounts.receivable, "receivable", receivable, ZERO)]
    for (account, description), amount in _revenue_split(session, invoice, mapping, lines).items():
        if amount:
            postings.append(post(account, description, ZERO, amount))
    return postings


def journal(*, session: Session, start: date, end: date, mapping: AccountMap) -> list[Posting]:
    """Every posting of invoices, credit notes and payments dated `start`..`end` (inclusive).

    Each document balances: its debits equal its credits. Rows come by date, then document.
    """
    low, high = _window(start, end)
    postings: list[Posting] = []
    invoices = session.exec(
        select(Invoice).where(Invoice.issued_at >= low).where(Invoice.issued_at < high)
    ).all()
    for invoice in invoices:
        postings += _document_postings(
            session=session,
            invoice=invoice,
            mapping=mapping,
            document_type="invoice",
            document=invoice.number,
            on=invoice.issued_at.date(),
            order=session.get(SalesOrder, invoice.order_id),
            reverse=False,
        )
    notes = session.exec(
        select(CreditNote).where(CreditNote.issued_at >= low).where(CreditNote.issued_at < high)
    ).all()
    for note in notes:
        credited = session.get(Invoice, note.invoice_id)
        if credited is None:
            continue
        # A credit note with lines (a return) reverses only them; one without, the whole invoice.
        lines = list(
            session.exec(
                select(CreditNoteLine)
                .where(CreditNoteLine.credit_note_id == note.id)
                .order_by(col(CreditNoteLine.id))
            )
        )
        postings += _document_postings(
            session=session,
            invoice=credited,
            mapping=mapping,
            document_type="credit_note",
            document=note.number,
            on=note.issued_at.date(),
            order=session.get(SalesOrder, note.order_id),
            reverse=True,
            total=note.total if lines else None,
            lines=lines or None,
        )
    payments = session.exec(
        select(Payment).where(Payment.received_at >= low).where(Payment.received_at < high)
    ).all()
    for payment in payments:
        order = session.get(SalesOrder, payment.order_id)
        discount = payment.method == DISCOUNT_METHOD
        common: _PostingHead = {
            "date": payment.received_at.date(),
            "journal": mapping.journals.sales if discount else mapping.journals.cash,
            "document_type": "discount" if discount else "payment",
            "document": f"{'DSC' if discount else 'PAY'}-{payment.id:06d}",
            "order": (order.number or "") if order else "",
            "customer_id": order.customer_id if order else 0,
            "currency": payment.currency,
        }
        # A refund is recorded as a negative payment; it posts the other way round.
        amount = abs(payment.amount)
        refund = payment.amount < 0
        what = "refund" if refund else "payment"
        if discount:  # granted, not received: the discounts account instead of the bank
            account = mapping.accounts.discounts
            description = f"early-payment discount {payment.reference or ''}".strip()
        else:
            account = mapping.bank_for(payment.method)
            description = f"{what} ({payment.method}) {payment.reference or ''}".strip()
        postings.append(
            Posting(
                **common,
                account=account,
                description=description,
                debit=ZERO if refund else amount,
                credit=amount if refund else ZERO,
            )
        )
        postings.append(
            Posting(
                **common,
                account=mapping.accounts.receivable,
                description="receivable",
                debit=amount if refund else ZERO,
                credit=ZERO if refund else amount,
            )
        )
    postings += _stock_postings(session, low, high, mapping)
    postings += payables.postings(session=session, low=low, high=high, mapping=mapping)
    kinds = {
        "invoice": 0,
        "credit_note": 1,
        "payment": 2,
        "discount": 3,
        "receipt": 4,
        "cogs": 5,
        "stock_return": 6,
        "supplier_invoice": 7,
        "supplier_payment": 8,
    }
    # A stable sort keeps each document's rows in posting order.
    return sorted(postings, key=lambda p: (p.date, kinds[p.document_type], p.document))


@dataclass(frozen=True)
class _StockDocument:
    """One stock document of the journal: a receipt, an order's packs of one day, or goods a
    customer returned into stock."""

    kind: str  # receipt | cogs | stock_return
    number: str
    on: date
    order: str
    currency: str


def _stock_postings(
    session: Session, low: datetime, high: datetime, mapping: AccountMap
) -> list[Posting]:
    """Receipts with a cost (inventory against goods received), packs (cost of goods sold
    against inventory) and restocked returns (inventory against cost of goods sold) at
    quantity x unit cost, rounded to cents per ledger entry: one document per receipt and per
    return, one per order and day of packing. Goods without a cost post nothing."""
    movements = session.exec(
        select(StockMovement)
        .where(col(StockMovement.kind).in_(["receive", "pack"]))
        .where(col(StockMovement.unit_cost).is_not(None))
        .where(StockMovement.at >= low)
        .where(StockMovement.at < high)
        .order_by(col(StockMovement.id))
    ).all()
    skus = {m.sku for m in movements}
    currencies = {
        p.sku: p.currency for p in session.exec(select(Product).where(col(Product.sku).in_(skus)))
    }
    documents: dict[_StockDocument, Decimal] = defaultdict(lambda: ZERO)
    for movement in movements:
        amount = round_money(Decimal(movement.qty) * (movement.unit_cost or ZERO))
        if not amount:
            continue
        currency = currencies.get(movement.sku, "USD")
        if movement.kind == "receive" and movement.order_number:  # a customer's return
            order = movement.order_number
            doc = _StockDocument(
                "stock_return", f"RST-{movement.id:06d}", movement.at.date(), order, currency
            )
        elif movement.kind == "receive":
            doc = _StockDocument(
                "receipt", f"REC-{movement.id:06d}", movement.at.date(), "", currency
            )
        else:
            order = movement.order_number or ""
            doc = _StockDocument("cogs", f"COGS-{order}", movement.at.date(), order, currency)
        documents[doc] += amount
    numbers = {doc.order for doc in documents if doc.order}
    customers = {
        o.number: o.customer_id
        for o in session.exec(select(SalesOrder).where(col(SalesOrder.number).in_(numbers)))
    }
    postings = []
    for doc, amount in documents.items():
        if doc.kind == "receipt":
            debit = (mapping.accounts.inventory, "goods received at cost")
            credit = (mapping.accounts.goods_received, "goods received not invoiced")
        elif doc.kind == "stock_return":
            debit = (mapping.accounts.inventory, "returned goods restocked at cost")
            credit = (mapping.accounts.cost_of_goods_sold, "cost of goods sold reversed")
        else:
            debit = (mapping.accounts.cost_of_goods_sold, "cost of goods sold")
            credit = (mapping.accounts.inventory, "inventory")
        for (account, description), debit_amount, credit_amount in (
            (debit, amount, ZERO),
            (credit, ZERO, amount),
        ):
            postings.append(
                Posting(
                    date=doc.on,
                    journal=mapping.journals.stock,
                    document_type=doc.kind,
                    document=doc.number,
                    order=doc.order,
                    customer_id=customers.get(doc.order, 0),
                    account=account,
                    description=description,
                    debit=debit_amount,
                    credit=credit_amount,
                    currency=doc.currency,
                )
            )
    return postings


def to_csv(postings: list[Posting]) -> str:
    """The postings as CSV with a header row (descriptions cannot smuggle in formulas)."""
    return spreadsheet.to_csv(COLUMNS, (posting.row() for posting in postings))
