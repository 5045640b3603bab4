"""Invoice as a PDF document (fpdf2, built-in fonts): header, bill-to, lines, charges, totals."""

from decimal import Decimal

from fpdf import FPDF
from sqlmodel import Session

from conveyor.customer.models import Customer
from conveyor.invoice import service as invoice_service
from conveyor.invoice.models import Invoice
from conveyor.order.models import SalesOrder

SELLER = "Conveyor Demo Ltd"
COLUMNS = ((22, "Qty"), (88, "Description"), (28, "Unit price"), (18, "Tax"), (30, "Amount"))


def _text(value: object) -> str:
    # The built-in PDF fonts cover Latin-1; anything else prints as "?" rather than failing.
    return str(value).encode("latin-1", errors="replace").decode("latin-1")


def render(*, session: Session, invoice: Invoice) -> bytes:
    """The invoice as issued, as PDF bytes."""
    order = session.get(SalesOrder, invoice.order_id)
    customer = session.get(Customer, order.customer_id) if order else None
    pdf = FPDF(format="A4")
    pdf.set_title(f"Invoice {invoice.number}")
    pdf.set_author(SELLER)
    # Uncompressed content streams: a few kB more, and the text stays searchable as is.
    pdf.set_compression(False)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _text(f"Invoice {invoice.number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    details = [
        f"Issued: {invoice.issued_at:%Y-%m-%d}",
        f"Order: {order.number if order else ''}",
        f"Currency: {invoice.currency}",
    ]
    if customer is not None:
        details[1:1] = [
            f"Bill to: {customer.name} <{customer.email}>",
            f"Country: {customer.country}",
        ]
    for detail in details:
        pdf.cell(0, 6, _text(detail), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 10)
    for width, title in COLUMNS:
        pdf.cell(width, 7, title, border="B", align="L" if title == "Description" else "R")
    pdf.ln()
    pdf.set_font("Helvetica", size=10)
    for line in invoice_service.lines(session=session, invoice_id=invoice.id or 0):
        description = line.description or line.sku or line.kind
        if line.kind != "item":
            description = f"{line.kind.capitalize()}: {description}"
        cells = (
            str(line.qty),
            description[:48],
            f"{line.unit_price}",
            f"{(line.tax_rate * 100).normalize():f} %",
            f"{line.amount}",
        )
        for (width, title), value in zip(COLUMNS, cells, strict=True):
            pdf.cell(width, 6, _text(value), align="L" if title == "Description" else "R")
        pdf.ln()
    pdf.ln(3)
    totals = [("Subtotal", invoice.subtotal), ("Charges", invoice.charges)]
    tax_label = "Tax included" if invoice.prices_include_tax else "Tax"
    totals += [(tax_label, invoice.tax), ("Total", invoice.total)]
    for label, amount in totals:
        pdf.set_font("Helvetica", "B" if label == "Total" else "", 10)
        pdf.cell(156, 6, label, align="R")
        pdf.cell(30, 6, _text(f"{Decimal(amount):.2f} {invoice.currency}"), align="R")
        pdf.ln()
    return bytes(pdf.output())
