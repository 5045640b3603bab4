"""The invoice as people read it, line by line: shared by the JSON view and the invoice pages."""

from sqlmodel import Session

from conveyor.core.errors import NotFound
from conveyor.invoice import service as invoice_service
from conveyor.invoice.models import Invoice, InvoiceDetail, InvoiceLinePublic, InvoicePublic
from conveyor.order.models import SalesOrder


def load(session: Session, number: str) -> Invoice:
    """The invoice with that number; NotFound otherwise."""
    invoice = invoice_service.get_by_number(session=session, number=number)
    if invoice is None:
        raise NotFound(f"invoice {number} not found")
    return invoice


def invoice_detail(session: Session, invoice: Invoice) -> InvoiceDetail:
    """The invoice as issued, line by line."""
    order = session.get(SalesOrder, invoice.order_id)
    return InvoiceDetail(
        **InvoicePublic.model_validate(invoice).model_dump(),
        order_number=order.number if order and order.number else "",
        lines=[
            InvoiceLinePublic.model_validate(line)
            for line in invoice_service.lines(session=session, invoice_id=invoice.id or 0)
        ],
    )
