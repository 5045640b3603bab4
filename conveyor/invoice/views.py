"""Invoice endpoints: an invoice with its lines, charges and taxes; an order's invoices."""

from typing import Annotated

from fastapi import APIRouter, Response

from api.deps import Principal, ReadSessionDep, require
from conveyor.auth.permissions import Permission
from conveyor.invoice import pdf as invoice_pdf
from conveyor.invoice import read as invoice_read
from conveyor.invoice import service as invoice_service
from conveyor.invoice.models import InvoiceDetail
from conveyor.order import read as order_read

router = APIRouter()


@router.get("", response_model=list[InvoiceDetail])
def list_invoices(
    order: str, session: ReadSessionDep, _: Annotated[Principal, require(Permission.INVOICES_VIEW)]
) -> list[InvoiceDetail]:
    """The invoices of an order (`?order=<number>`), oldest first."""
    found = order_read.load(session, order)
    return [
        invoice_read.invoice_detail(session, invoice)
        for invoice in invoice_service.list_for_order(session=session, order_id=found.id or 0)
    ]


@router.get("/{number}", response_model=InvoiceDetail)
def read_invoice(
    number: str, session: ReadSessionDep, _: Annotated[Principal, require(Permission.INVOICES_VIEW)]
) -> InvoiceDetail:
    """One invoice with its lines, charges and taxes."""
    return invoice_read.invoice_detail(session, invoice_read.load(session, number))


@router.get(
    "/{number}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "the invoice as PDF"}},
)
def invoice_as_pdf(
    number: str, session: ReadSessionDep, _: Annotated[Principal, require(Permission.INVOICES_VIEW)]
) -> Response:
    """The invoice as a PDF document."""
    invoice = invoice_read.load(session, number)
    return Response(
        invoice_pdf.render(session=session, invoice=invoice),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{number}.pdf"'},
    )
