"""Staff views of a customer (order and support history, customer-center account) and invoices."""

from typing import Annotated

from fastapi import Form, HTTPException, Request, status
from fastapi.responses import Response

from api.deps import ReadSessionDep, StateDep
from conveyor.core.state import in_session
from conveyor.customer import service as customer_service
from conveyor.invoice import pdf as invoice_pdf
from conveyor.invoice import service as invoice_service
from conveyor.invoice import views as invoice_views
from conveyor.order import service as order_service
from conveyor.order import views as order_views
from conveyor.order.models import SalesOrder
from conveyor.pages.auth import redirect
from conveyor.pages.orders import error_page
from conveyor.pages.web import (
    CsrfChecked,
    CustomerDep,
    StaffDep,
    WebSessionDep,
    page_router,
    render,
)
from conveyor.support import service as support_service

router = page_router()


@router.get("/customers/{customer_id}", include_in_schema=False)
def customer_page(
    customer_id: int, request: Request, session: ReadSessionDep, principal: StaffDep
) -> Response:
    """A customer's order history and support history, for staff (F23)."""
    customer = customer_service.get(session=session, customer_id=customer_id)
    if customer is None:
        exc = HTTPException(status.HTTP_404_NOT_FOUND, f"customer {customer_id} not found")
        return error_page(request, exc, principal=principal)
    orders, count = order_service.list_orders(session=session, customer_id=customer_id, limit=200)
    by_id = {o.id: o for o in orders}
    messages = support_service.list_messages_for_orders(
        session=session, order_ids=[o.id for o in orders if o.id]
    )
    context = {
        "page": "monitor",
        "shown": customer,
        "orders": orders,
        "count": count,
        "messages": [(m, by_id[m.order_id]) for m in messages],
        "may_modify": _may_modify(principal),
    }
    return render(request, "customer_staff.html", context, principal=principal)


def _may_modify(principal) -> bool:  # noqa: ANN001
    try:
        order_views._require_modify(principal)
    except HTTPException:
        return False
    return True


@router.post(
    "/customers/{customer_id}/account", include_in_schema=False, dependencies=[CsrfChecked]
)
async def open_account(
    customer_id: int,
    request: Request,
    state: StateDep,
    principal: StaffDep,
    web: WebSessionDep,
    password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Open or reset the customer's customer-center account (clearance needed)."""
    try:
        order_views._require_modify(principal)
    except HTTPException as exc:
        return error_page(request, exc, principal=principal)

    def work(session) -> str:  # noqa: ANN001
        customer = customer_service.get(session=session, customer_id=customer_id)
        if customer is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"customer {customer_id} not found")
        customer_service.set_password(session=session, customer=customer, password=password)
        return customer.email

    try:
        email = await in_session(state, work)
    except HTTPException as exc:
        return error_page(request, exc, principal=principal)
    except ValueError as exc:
        web.flash = f"Not changed: {exc}"
    else:
        web.flash = f"{email} can now sign in to the customer center with that password."
    return redirect(request, f"/customers/{customer_id}", web)


def _invoice(session, number: str):  # noqa: ANN001, ANN202
    invoice = invoice_service.get_by_number(session=session, number=number)
    if invoice is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"invoice {number} not found")
    return invoice


def _pdf(session, invoice) -> Response:  # noqa: ANN001
    return Response(
        invoice_pdf.render(session=session, invoice=invoice),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{invoice.number}.pdf"'},
    )


def _own_invoice(session, number: str, customer_id: int):  # noqa: ANN001, ANN202
    invoice = _invoice(session, number)
    order = session.get(SalesOrder, invoice.order_id)
    if order is None or order.customer_id != customer_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"invoice {number} not found")
    return invoice


@router.get("/invoices/{number}.pdf", include_in_schema=False)
def invoice_pdf_page(
    number: str, request: Request, session: ReadSessionDep, principal: StaffDep
) -> Response:
    """The invoice PDF (the same document as GET /api/invoices/{number}/pdf)."""
    try:
        return _pdf(session, _invoice(session, number))
    except HTTPException as exc:
        return error_page(request, exc, principal=principal)


@router.get("/customer/invoices/{number}.pdf", include_in_schema=False)
def customer_invoice_pdf(
    number: str, request: Request, session: ReadSessionDep, customer: CustomerDep
) -> Response:
    """The customer's own invoice as PDF (someone else's: 404)."""
    try:
        return _pdf(session, _own_invoice(session, number, customer.id or 0))
    except HTTPException as exc:
        return error_page(request, exc, customer=customer)


@router.get("/invoices/{number}", include_in_schema=False)
def invoice_page(
    number: str, request: Request, session: ReadSessionDep, principal: StaffDep
) -> Response:
    """An invoice laid out for printing (or saving as PDF from the browser)."""
    try:
        invoice = _invoice(session, number)
    except HTTPException as exc:
        return error_page(request, exc, principal=principal)
    return _render_invoice(request, session, invoice, principal=principal)


@router.get("/customer/invoices/{number}", include_in_schema=False)
def customer_invoice_page(
    number: str, request: Request, session: ReadSessionDep, customer: CustomerDep
) -> Response:
    """The customer's own invoice (someone else's: 404)."""
    try:
        invoice = _own_invoice(session, number, customer.id or 0)
    except HTTPException as exc:
        return error_page(request, exc, customer=customer)
    return _render_invoice(request, session, invoice, customer=customer)


def _render_invoice(request: Request, session, invoice, **who) -> Response:  # noqa: ANN001, ANN003
    detail = invoice_views.invoice_detail(session, invoice)
    order = session.get(SalesOrder, invoice.order_id)
    billed = customer_service.get(session=session, customer_id=order.customer_id) if order else None
    context = {"invoice": detail, "billed": billed, "page": "customer" if "customer" in who else ""}
    return render(request, "invoice.html", context, **who)
