"""Invoice endpoints: an invoice with its lines, charges and taxes; an order's invoices."""

from fastapi import APIRouter, HTTPException, Response, status
from sqlmodel import Session

from api.deps import CurrentPrincipal, ReadSessionDep
from conveyor.invoice import pdf as invoice_pdf
from conveyor.invoice import service as invoice_service
from conveyor.invoice.models import Invoice, InvoiceDetail, InvoiceLinePublic, InvoicePublic
from conveyor.order import service as order_service
from conveyor.order.models import SalesOrder

router = APIRouter()


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


@router.get("", response_model=list[InvoiceDetail])
def list_invoices(order: str, session: ReadSessionDep, _: CurrentPrincipal) -> list[InvoiceDetail]:
    """The invoices of an order (`?order=<number>`), oldest first."""
    found = order_service.get_by_number(session=session, number=order)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"order {order} not found")
    return [
        invoice_detail(session, invoice)
        for invoice in invoice_service.list_for_order(session=session, order_id=found.id or 0)
    ]


@router.get("/{number}", response_model=InvoiceDetail)
def read_invoice(number: str, session: ReadSessionDep, _: CurrentPrincipal) -> InvoiceDetail:
    """One invoice with its lines, charges and taxes."""
    invoice = invoice_service.get_by_number(session=session, number=number)
    if invoice is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"invoice {number} not found")
    return invoice_detail(session, invoice)


@router.get(
    "/{number}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "the invoice as PDF"}},
)
def invoice_as_pdf(number: str, session: ReadSessionDep, _: CurrentPrincipal) -> Response:
    """The invoice as a PDF document."""
    invoice = invoice_service.get_by_number(session=session, number=number)
    if invoice is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"invoice {number} not found")
    return Response(
        invoice_pdf.render(session=session, invoice=invoice),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{number}.pdf"'},
    )
