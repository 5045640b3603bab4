"""Staff views of a customer (order and support history, customer-center account) and invoices."""

from typing import Annotated

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep, StateDep
from conveyor.audit.models import AuditEntry, Source
from conveyor.auth.permissions import Permission
from conveyor.core import pdf
from conveyor.core.errors import DomainError, NotFound
from conveyor.core.models import utcnow
from conveyor.customer import service as customer_service
from conveyor.customer.models import Customer
from conveyor.invoice import pdf as invoice_pdf
from conveyor.invoice import read as invoice_read
from conveyor.invoice import statement as invoice_statement
from conveyor.invoice.models import Invoice
from conveyor.invoice.standing import standing
from conveyor.order import service as order_service
from conveyor.order.models import SalesOrder
from conveyor.order.policy import MODIFY_CLEARANCE, MODIFYING_ORDERS
from conveyor.pages.auth import LinkNotSent, redirect, send_set_password_link
from conveyor.pages.history import history
from conveyor.pages.web import (
    CsrfChecked,
    CustomerDep,
    WebSessionDep,
    page_refusal,
    page_router,
    render,
    require_page,
)
from conveyor.report import kpis as kpi_service
from conveyor.support import service as support_service
from conveyor.terms import service as terms_service

router = page_router()


@router.get("/customers/{customer_id}", include_in_schema=False)
def customer_page(
    customer_id: int,
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.CUSTOMERS_VIEW)],
) -> Response:
    """A customer's order history and support history, for staff (F23)."""
    customer = customer_service.get(session=session, customer_id=customer_id)
    rep = principal.own_accounts_only()
    if customer is None or (rep is not None and customer.account_rep_id != rep):
        missing = NotFound(f"customer {customer_id} not found")
        return page_refusal(request, missing, principal=principal)
    orders, count = order_service.list_orders(session=session, customer_id=customer_id, limit=200)
    by_id = {o.id: o for o in orders}
    messages = support_service.list_messages_for_orders(
        session=session, order_ids=[o.id for o in orders if o.id]
    )
    context = {
        "page": "customers",
        "history": history(session, principal, [("customer", [str(customer_id)])]),
        "shown": customer,
        "orders": orders,
        "count": count,
        "habits": kpi_service.habits(session=session, customer_id=customer_id, now=utcnow()),
        "messages": [(m, by_id[m.order_id]) for m in messages],
        "may_modify": principal.can(Permission.CUSTOMER_ACCOUNTS),
        "may_see_invoices": principal.can(Permission.INVOICES_VIEW),
        "terms": terms_service.describe_terms(
            terms_service.for_customer(session=session, customer=customer)
        ),
        **invoice_statement.form_defaults(),
    }
    return render(request, "customer_staff.html", context, principal=principal)


@router.post(
    "/customers/{customer_id}/account", include_in_schema=False, dependencies=[CsrfChecked]
)
async def open_account(
    customer_id: int,
    request: Request,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.CUSTOMER_ACCOUNTS)],
    web: WebSessionDep,
) -> Response:
    """Open or reset the customer's customer-center account: e-mail them a one-time link to
    choose their password (staff never set or see it; the sending is in the audit log)."""
    if refusal := principal.clearance_refusal(MODIFY_CLEARANCE, MODIFYING_ORDERS):
        return page_refusal(request, refusal, principal=principal)
    try:
        email = await send_set_password_link(
            state, customer_id=customer_id, actor=principal.actor(Source.PAGE)
        )
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)
    except LinkNotSent as exc:
        web.alert = f"Not sent: {exc}"
    else:
        hours = f"{state.settings.password_link_hours:g}"
        web.flash = f"A set-password link was sent to {email}; it works once, within {hours} hours."
    return redirect(request, f"/customers/{customer_id}", web)


def _pdf(session: Session, invoice: Invoice) -> Response:
    return Response(
        invoice_pdf.render(session=session, invoice=invoice),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{invoice.number}.pdf"'},
    )


def _own_invoice(session: Session, number: str, customer_id: int) -> Invoice:
    """The customer's own invoice; someone else's is NotFound, exactly like a missing one."""
    invoice = invoice_read.load(session, number)
    order = session.get(SalesOrder, invoice.order_id)
    if order is None or order.customer_id != customer_id:
        raise NotFound(f"invoice {number} not found")
    return invoice


@router.get("/invoices/{number}.pdf", include_in_schema=False)
def invoice_pdf_page(
    number: str,
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.INVOICES_VIEW)],
) -> Response:
    """The invoice PDF (the same document as GET /api/invoices/{number}/pdf)."""
    try:
        return _pdf(session, invoice_read.load(session, number))
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)


@router.get("/customer/invoices/{number}.pdf", include_in_schema=False)
def customer_invoice_pdf(
    number: str, request: Request, session: ReadSessionDep, customer: CustomerDep
) -> Response:
    """The customer's own invoice as PDF (someone else's: 404)."""
    try:
        return _pdf(session, _own_invoice(session, number, customer.id or 0))
    except DomainError as exc:
        return page_refusal(request, exc, customer=customer)


@router.get("/invoices/{number}", include_in_schema=False)
def invoice_page(
    number: str,
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.INVOICES_VIEW)],
) -> Response:
    """An invoice laid out for printing (a sales rep's own customers' only: 404 otherwise)."""
    try:
        invoice = invoice_read.load(session, number)
        order = session.get(SalesOrder, invoice.order_id)
        rep = principal.own_accounts_only()
        if rep is not None and (
            order is None or order_service.account_rep_of(session, order.customer_id) != rep
        ):
            raise NotFound(f"invoice {number} not found")
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)
    return _render_invoice(request, session, invoice, principal=principal)


@router.get("/customer/invoices/{number}", include_in_schema=False)
def customer_invoice_page(
    number: str, request: Request, session: ReadSessionDep, customer: CustomerDep
) -> Response:
    """The customer's own invoice (someone else's: 404)."""
    try:
        invoice = _own_invoice(session, number, customer.id or 0)
    except DomainError as exc:
        return page_refusal(request, exc, customer=customer)
    return _render_invoice(request, session, invoice, customer=customer)


def _render_invoice(
    request: Request, session: Session, invoice: Invoice, **who: Principal | Customer
) -> Response:
    detail = invoice_read.invoice_detail(session, invoice)
    order = session.get(SalesOrder, invoice.order_id)
    billed = customer_service.get(session=session, customer_id=order.customer_id) if order else None
    context = {
        "invoice": detail,
        "billed": billed,
        "bill_to": invoice_pdf.bill_to_lines(session, billed) if billed else [],
        "seller": pdf.seller(),
        "standing": standing(session=session, invoice=invoice),
        "page": "customer" if "customer" in who else "invoices",
    }
    staff = who.get("principal")
    if isinstance(staff, Principal):  # the audit history is for staff (with audit.view) only
        context["history"] = _invoice_history(session, staff, invoice, order)
    return render(request, "invoice.html", context, **who)


def _invoice_history(
    session: Session, principal: Principal, invoice: Invoice, order: SalesOrder | None
) -> list[AuditEntry] | None:
    """The invoice's audit history: changes to it and the payments recorded on its order."""
    number = order.number if order and order.number else ""
    entries = history(session, principal, [("invoice", [invoice.number]), ("order", [number])])
    if entries is None:
        return None
    payments = ("order.payment", "order.payment_discount", "order.payment_discount_reversed")
    return [e for e in entries if e.entity == "invoice" or e.action in payments]
