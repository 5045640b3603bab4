"""Invoice as a PDF document: seller, bill-to, due date and status, lines, charges, totals."""

from sqlmodel import Session

from conveyor.core import pdf
from conveyor.core.pdf import Column
from conveyor.customer import addresses
from conveyor.customer.models import Customer
from conveyor.invoice import read as invoice_read
from conveyor.invoice import service as invoice_service
from conveyor.invoice.models import Invoice
from conveyor.invoice.standing import standing
from conveyor.order.models import SalesOrder

COLUMNS = (
    Column(22, "Qty", "R"),
    Column(88, "Description"),
    Column(28, "Unit price", "R"),
    Column(18, "Tax", "R"),
    Column(30, "Amount", "R"),
)


def bill_to_lines(session: Session, customer: Customer) -> list[str]:
    """The customer's default billing address as printed (name, e-mail, country without one)."""
    address = addresses.default_billing_address(session=session, customer_id=customer.id or 0)
    if address is None:
        return [customer.name, customer.email, customer.country]
    city = " ".join(p for p in (address.postcode, address.city) if p)
    parts = [address.name, address.line1, address.line2, city, address.region, address.country]
    return [part for part in parts if part] + [customer.email]


def discount_lines(invoice: Invoice) -> list[str]:
    """The early-payment discount and deposit of the invoice's terms, as printed."""
    printed = []
    if invoice.discount_until is not None and invoice.discount_amount > 0:
        pay = invoice.total - invoice.discount_amount
        printed.append(
            f"Early payment: pay {pay:.2f} {invoice.currency} by "
            f"{invoice.discount_until:%Y-%m-%d} (discount {invoice.discount_amount:.2f})"
        )
    if invoice.deposit_amount > 0:
        printed.append(
            f"Deposit before fulfilment: {invoice.deposit_amount:.2f} {invoice.currency}"
        )
    return printed


def render(*, session: Session, invoice: Invoice) -> bytes:
    """The invoice as issued, with its due date and paid/open status, as PDF bytes."""
    order = session.get(SalesOrder, invoice.order_id)
    customer = session.get(Customer, order.customer_id) if order else None
    state = standing(session=session, invoice=invoice)
    out = pdf.document(f"Invoice {invoice.number}")
    if customer is not None:
        pdf.lines(out, ["Bill to:", *bill_to_lines(session, customer)], bold_first=True)
        out.ln(3)
    details = [
        f"Issued: {invoice.issued_at:%Y-%m-%d}",
        f"Due: {state.due_on:%Y-%m-%d} ({state.terms_days} days net)",
        f"Terms: {invoice_read.terms_words(session, invoice, customer)}",
    ]
    details += discount_lines(invoice)
    details += [
        f"Status: {state.status} (due {state.amount_due:.2f} {invoice.currency})",
        f"Order: {order.number if order else ''}",
    ]
    if order is not None and order.customer_po:
        details.append(f"Customer PO: {order.customer_po}")
    details.append(f"Currency: {invoice.currency}")
    pdf.lines(out, details)
    out.ln(4)
    rows = []
    for line in invoice_service.lines(session=session, invoice_id=invoice.id or 0):
        description = line.description or line.sku or line.kind
        if line.kind != "item":
            description = f"{line.kind.capitalize()}: {description}"
        rate = pdf.percent(line.tax_rate)
        rows.append((line.qty, description, line.unit_price, rate, line.amount))
    pdf.table(out, COLUMNS, rows)
    out.ln(3)
    totals = [("Subtotal", invoice.subtotal), ("Charges", invoice.charges)]
    tax_label = "Tax included" if invoice.prices_include_tax else "Tax"
    totals += [(tax_label, invoice.tax), ("Total", invoice.total)]
    pdf.totals(out, totals, invoice.currency)
    company = pdf.seller()
    if company.bank_details:
        out.ln(6)
        pdf.lines(out, ["Payment to:", *company.bank_details], bold_first=True)
    return pdf.output(out)
