"""A quote as a PDF document: seller, customer, ship-to, validity and version, lines, charges,
totals. The same document is attached to the quote's mails."""

from decimal import Decimal

from sqlmodel import Session

from conveyor.core import pdf
from conveyor.core.models import row_id
from conveyor.customer.models import Customer
from conveyor.invoice.pdf import COLUMNS, bill_to_lines
from conveyor.order import service as order_service
from conveyor.order.models import SalesOrder


def _ship_to(order: SalesOrder) -> list[str]:
    city = " ".join(p for p in (order.ship_to_postcode, order.ship_to_city) if p)
    parts = [order.ship_to_name, order.ship_to_line1, order.ship_to_line2, city]
    return [p for p in (*parts, order.ship_to_region, order.ship_to_country) if p]


def _details(order: SalesOrder) -> list[str]:
    details = [f"Date: {order.created_at:%Y-%m-%d}", f"Version: {order.quote_version}"]
    if order.quote_valid_until:
        details.append(f"Valid until: {order.quote_valid_until:%Y-%m-%d}")
    if order.revises:
        details.append(f"Replaces quote: {order.revises}")
    if order.superseded_by:
        details.append(f"Superseded by quote: {order.superseded_by}")
    if order.customer_po:
        details.append(f"Customer PO: {order.customer_po}")
    if order.requested_delivery_date:
        details.append(f"Requested delivery: {order.requested_delivery_date:%Y-%m-%d}")
    return [*details, f"Currency: {order.currency}"]


def render(*, session: Session, order: SalesOrder) -> bytes:
    """The quote (an order's offer: its lines at the prices it was priced at) as PDF bytes."""
    customer = session.get(Customer, order.customer_id)
    out = pdf.document(f"Quote {order.number}")
    if customer is not None:
        pdf.lines(out, ["Customer:", *bill_to_lines(session, customer)], bold_first=True)
        out.ln(3)
    if order.ship_to_line1:
        pdf.lines(out, ["Ship to:", *_ship_to(order)], bold_first=True)
        out.ln(3)
    pdf.lines(out, _details(order))
    out.ln(4)
    rows: list[tuple[object, ...]] = []
    for line in order_service.lines(session=session, order_id=row_id(order)):
        description = f"{'+ ' if line.parent_line_id else ''}{line.name or line.sku} ({line.sku})"
        if line.price_rule and line.price_rule != "list price":
            description += f", {line.price_rule}"
        rate = pdf.percent(line.tax_rate)
        rows.append((line.qty, description, line.unit_price, rate, line.line_total))
    for charge in order_service.charges(session=session, order_id=row_id(order)):
        rate = pdf.percent(charge.tax_rate)
        label = f"{charge.kind.capitalize()}: {charge.description or charge.kind}"
        rows.append(("", label, "", rate, charge.amount))
    pdf.table(out, COLUMNS, rows)
    out.ln(3)
    totals: list[tuple[str, Decimal]] = [("Subtotal", order.subtotal)]
    if order.discount_total:
        totals.append(("Discount included", order.discount_total))
    tax_label = "Tax included" if order.prices_include_tax else "Tax"
    totals += [("Charges", order.charges_total), (tax_label, order.tax_total)]
    totals.append(("Total", order.total))
    pdf.totals(out, totals, order.currency)
    out.ln(6)
    until = f" until {order.quote_valid_until:%Y-%m-%d}" if order.quote_valid_until else ""
    pdf.lines(out, [f"This quote is valid{until}. Accept it in the customer center."])
    return pdf.output(out)
