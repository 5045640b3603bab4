"""Partial invoices: one per shipment, invoicing what was packed, adding up to the order total."""

from collections.abc import Sequence
from decimal import Decimal

from sqlmodel import Session, col, select

from conveyor.core.models import round_money, row_id
from conveyor.invoice import service as invoice_service
from conveyor.invoice.models import Invoice, InvoiceLine
from conveyor.order.models import OrderLine, SalesOrder
from conveyor.outbound import events as outbound_events


def create_for_shipment(
    *,
    session: Session,
    key: str,
    order: SalesOrder,
    goods: Sequence[tuple[str, int]],
    first: bool,
    last: bool,
) -> Invoice:
    """Invoice one shipment's `goods` (sku, qty) once per `key`.

    Each SKU is invoiced pro rata of the order's amounts for it, rounded once per invoice line;
    the first shipment carries the order's charges, and the last one takes what rounding left
    over, so the invoices of an order always add up to its total to the cent.
    """
    existing = invoice_service.get_by_key(session=session, key=key)
    if existing:
        return existing
    earlier = _earlier_lines(session, order.id or 0)
    invoice = invoice_service.numbered_invoice(session=session, key=key, order=order)
    order_lines = session.exec(
        select(OrderLine).where(OrderLine.order_id == order.id).order_by(col(OrderLine.id))
    ).all()
    subtotal = tax = charges = Decimal("0.00")
    for sku, qty in goods:
        lines = [line for line in order_lines if line.sku == sku]
        ordered = sum(line.qty for line in lines)
        amount_due = sum((line.line_total for line in lines), Decimal("0"))
        tax_due = sum((line.tax_amount for line in lines), Decimal("0"))
        before = [line for line in earlier if line.sku == sku]
        invoiced_qty = sum(line.qty for line in before)
        if invoiced_qty + qty >= ordered:  # the rest of this SKU: take the remainder
            amount = amount_due - sum((line.amount for line in before), Decimal("0"))
            line_tax = tax_due - sum((line.tax_amount for line in before), Decimal("0"))
        else:
            amount = round_money(amount_due * qty / ordered)
            line_tax = round_money(tax_due * qty / ordered)
        session.add(
            InvoiceLine(
                invoice_id=row_id(invoice),
                kind="item",
                sku=sku,
                description=lines[0].name,
                qty=qty,
                unit_price=lines[0].unit_price,
                amount=amount,
                price_rule=lines[0].price_rule,
                tax_class=lines[0].tax_class,
                tax_rate=lines[0].tax_rate,
                tax_amount=line_tax,
            )
        )
        subtotal += amount
        tax += line_tax
    if first:
        added = invoice_service.add_charge_lines(
            session=session, invoice=invoice, order_id=order.id or 0
        )
        charges += sum((charge.amount for charge in added), Decimal("0"))
        tax += sum((charge.tax_amount for charge in added), Decimal("0"))
    total = subtotal + charges + (Decimal("0") if order.prices_include_tax else tax)
    if last:  # what the order total holds beyond its itemised lines (a store's own figures)
        previous = sum(
            session.exec(
                select(col(Invoice.total))
                .where(Invoice.order_id == order.id)
                .where(Invoice.id != invoice.id)
            ).all(),
            Decimal("0"),
        )
        difference = round_money(order.total - previous - total)
        if difference:
            invoice_service.add_adjustment_line(session=session, invoice=invoice, amount=difference)
            charges += difference
            total += difference
    invoice.subtotal, invoice.charges = round_money(subtotal), round_money(charges)
    invoice.tax, invoice.total = round_money(tax), round_money(total)
    invoice_service.apply_terms(session=session, invoice=invoice, order=order)
    session.flush()
    outbound_events.invoice_issued(session, invoice, order)
    return invoice


def _earlier_lines(session: Session, order_id: int) -> list[InvoiceLine]:
    invoice_ids = session.exec(select(Invoice.id).where(Invoice.order_id == order_id)).all()
    if not invoice_ids:
        return []
    return list(
        session.exec(
            select(InvoiceLine)
            .where(col(InvoiceLine.invoice_id).in_(invoice_ids))
            .where(InvoiceLine.kind == "item")
        )
    )
