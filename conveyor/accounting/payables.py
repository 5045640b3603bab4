"""The journal's payables: approved supplier invoices (goods received not invoiced, price
variance and input tax against accounts payable) and their payments (payable against bank)."""

from datetime import datetime
from decimal import Decimal

from sqlmodel import Session, col, select

from conveyor.accounting.mapping import AccountMap
from conveyor.accounting.posting import Posting
from conveyor.core.models import round_money
from conveyor.purchasing.invoice_models import (
    SupplierInvoice,
    SupplierInvoiceLine,
    SupplierInvoiceStatus,
)
from conveyor.purchasing.models import PurchaseOrder, PurchaseOrderKind, Supplier

ZERO = Decimal("0.00")
POSTED = (SupplierInvoiceStatus.APPROVED, SupplierInvoiceStatus.PAID)


def _lines(session: Session, invoice_ids: list[int]) -> dict[int, list[SupplierInvoiceLine]]:
    found: dict[int, list[SupplierInvoiceLine]] = {}
    for line in session.exec(
        select(SupplierInvoiceLine)
        .where(col(SupplierInvoiceLine.invoice_id).in_(invoice_ids))
        .order_by(col(SupplierInvoiceLine.id))
    ):
        found.setdefault(line.invoice_id, []).append(line)
    return found


def invoice_postings(
    invoice: SupplierInvoice,
    lines: list[SupplierInvoiceLine],
    mapping: AccountMap,
    what: str,
    drop_ship: bool = False,
) -> list[Posting]:
    """An approved supplier invoice's postings, balanced: goods received not invoiced cleared
    at the purchase order's price for the quantity invoiced (what the receipts credited it
    with), the rest of the net amount as price variance, the tax as input tax, the total
    owed to the supplier on accounts payable. A drop-ship's goods never were in stock: its
    net amount is the cost of the goods sold."""
    if drop_ship:
        goods = [
            (mapping.accounts.cost_of_goods_sold, "drop-ship goods sold", invoice.net_total, ZERO)
        ]
    else:
        at_po_price = sum((round_money(Decimal(ln.qty) * ln.po_unit_price) for ln in lines), ZERO)
        goods = [
            (mapping.accounts.goods_received, "goods received, invoiced", at_po_price, ZERO),
            (
                mapping.accounts.price_variance,
                "purchase price variance",
                invoice.net_total - at_po_price,
                ZERO,
            ),
        ]
    rows = [
        *goods,
        (mapping.accounts.input_tax, "input tax", invoice.tax_total, ZERO),
        (mapping.accounts.payable, f"payable {what}", ZERO, invoice.total),
    ]
    assert invoice.approved_at is not None
    return [
        _posting(
            invoice,
            invoice.approved_at,
            "supplier_invoice",
            invoice.number or "",
            mapping.journals.purchases,
            row,
        )
        for row in _signed(rows)
    ]


def payment_postings(invoice: SupplierInvoice, mapping: AccountMap, what: str) -> list[Posting]:
    """A supplier invoice paid in full: accounts payable against the bank."""
    bank = mapping.bank_for(invoice.payment_method or "")
    reference = f" {invoice.payment_reference}" if invoice.payment_reference else ""
    rows = [
        (mapping.accounts.payable, f"payable {what}", invoice.total, ZERO),
        (bank, f"paid ({invoice.payment_method}){reference}", ZERO, invoice.total),
    ]
    assert invoice.paid_at is not None
    return [
        _posting(
            invoice,
            invoice.paid_at,
            "supplier_payment",
            f"SPAY-{invoice.id:06d}",
            mapping.journals.cash,
            row,
        )
        for row in _signed(rows)
    ]


def _signed(
    rows: list[tuple[str, str, Decimal, Decimal]],
) -> list[tuple[str, str, Decimal, Decimal]]:
    # A zero row posts nothing; a negative debit (the invoice below the PO's price) is a credit.
    out = []
    for account, description, debit, credit in rows:
        if debit < 0:
            debit, credit = ZERO, -debit
        if debit or credit:
            out.append((account, description, debit, credit))
    return out


def _posting(
    invoice: SupplierInvoice,
    at: datetime,
    document_type: str,
    document: str,
    journal: str,
    row: tuple[str, str, Decimal, Decimal],
) -> Posting:
    account, description, debit, credit = row
    return Posting(
        date=at.date(),
        journal=journal,
        document_type=document_type,
        document=document,
        order="",
        customer_id=0,
        account=account,
        description=description[:200],
        debit=debit,
        credit=credit,
        currency=invoice.currency,
    )


def postings(
    *, session: Session, low: datetime, high: datetime, mapping: AccountMap
) -> list[Posting]:
    """Supplier invoices approved, and supplier payments made, from `low` to before `high`."""
    approved = list(
        session.exec(
            select(SupplierInvoice)
            .where(col(SupplierInvoice.status).in_(POSTED))
            .where(col(SupplierInvoice.approved_at) >= low)
            .where(col(SupplierInvoice.approved_at) < high)
            .order_by(col(SupplierInvoice.id))
        )
    )
    paid = list(
        session.exec(
            select(SupplierInvoice)
            .where(SupplierInvoice.status == SupplierInvoiceStatus.PAID)
            .where(col(SupplierInvoice.paid_at) >= low)
            .where(col(SupplierInvoice.paid_at) < high)
            .order_by(col(SupplierInvoice.id))
        )
    )
    invoices = {i.id: i for i in approved + paid}
    suppliers = {
        s.id: s.code
        for s in session.exec(
            select(Supplier).where(col(Supplier.id).in_({i.supplier_id for i in invoices.values()}))
        )
    }
    orders = {
        p.id: p
        for p in session.exec(
            select(PurchaseOrder).where(
                col(PurchaseOrder.id).in_({i.purchase_order_id for i in invoices.values()})
            )
        )
    }
    by_invoice = _lines(session, [i.id or 0 for i in approved])

    def what(invoice: SupplierInvoice) -> str:
        return (
            f"{suppliers.get(invoice.supplier_id, '')} {invoice.supplier_number} "
            f"({purchase.number if (purchase := orders.get(invoice.purchase_order_id)) else ''})"
        )

    found: list[Posting] = []
    for invoice in approved:
        purchase = orders.get(invoice.purchase_order_id)
        found += invoice_postings(
            invoice,
            by_invoice.get(invoice.id or 0, []),
            mapping,
            what(invoice),
            drop_ship=purchase is not None and purchase.kind == PurchaseOrderKind.DROP_SHIP,
        )
    for invoice in paid:
        found += payment_postings(invoice, mapping, what(invoice))
    return found
