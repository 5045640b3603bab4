"""Supplier invoice pages: the list, the entry form from a purchase order (one row per line),
one invoice with each line's match, the decision on a held one and the payment."""

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import Path, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep, SessionDep, StateDep
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.core.errors import DomainError, Invalid, NotFound
from conveyor.core.models import utcnow
from conveyor.core.patch import describe
from conveyor.pages.history import record_history
from conveyor.pages.web import (
    CsrfChecked,
    WebSessionDep,
    flash_redirect,
    page_refusal,
    page_router,
    render,
    require_page,
)
from conveyor.purchasing import invoices as invoice_service
from conveyor.purchasing import service as purchasing_service
from conveyor.purchasing.invoice_models import (
    SupplierInvoiceCreate,
    SupplierInvoiceLineIn,
    SupplierInvoiceStatus,
    SupplierPaymentIn,
)

router = page_router()
INVOICES = "/purchasing/invoices"
ORDERS = "/purchasing/orders"
Number = Annotated[str, Path(max_length=32)]


@router.get(INVOICES, include_in_schema=False)
def invoices_page(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.SUPPLIER_INVOICES_VIEW)],
    status: str = "",
) -> Response:
    """Supplier invoices newest first (the latest 200), by status."""
    chosen = status if status in set(SupplierInvoiceStatus) else None
    rows, count = invoice_service.list_invoices(session=session, status=chosen, limit=200)
    context = {
        "page": "purchasing",
        "rows": [invoice_service.to_public(session=session, invoice=i) for i in rows],
        "count": count,
        "status": chosen or "",
        "statuses": list(SupplierInvoiceStatus),
    }
    return render(request, "purchasing_invoices.html", context, principal=principal)


def _entry_page(
    request: Request,
    principal: Principal,
    session: Session,
    number: str,
    *,
    values: dict[str, str],
    error: str = "",
    tolerance: Decimal,
    status_code: int = 200,
) -> Response:
    purchase = purchasing_service.get_by_number(session=session, number=number)
    if purchase is None:
        return page_refusal(request, NotFound(f"no purchase order {number}"), principal=principal)
    received = {
        line.sku: invoice_service.received(purchase, line)
        for line in purchasing_service.lines(session=session, purchase_order_id=purchase.id or 0)
    }
    public = purchasing_service.to_public(session=session, purchase=purchase)
    earlier, _count = invoice_service.list_invoices(
        session=session, purchase_order_id=purchase.id, limit=500
    )
    billed: dict[str, int] = {}
    for invoice in earlier:
        if invoice.status in invoice_service.BILLING:
            for line in invoice_service.lines(session=session, invoice_id=invoice.id or 0):
                billed[line.sku] = billed.get(line.sku, 0) + line.qty
    rows = [
        {
            "line": line,
            "billed": billed.get(line.sku, 0),
            "qty": values.get(
                f"qty:{line.sku}", str(max(received[line.sku] - billed.get(line.sku, 0), 0))
            ),
            "price": values.get(f"price:{line.sku}", f"{line.unit_price or 0}"),
        }
        for line in public.lines
    ]
    context = {
        "page": "purchasing",
        "purchase": public,
        "rows": rows,
        "values": values,
        "error": error,
        "tolerance": tolerance,
        "today": utcnow().date().isoformat(),
    }
    return render(
        request,
        "purchasing_invoice_new.html",
        context,
        principal=principal,
        status_code=status_code,
    )


@router.get(f"{ORDERS}/{{number}}/invoice", include_in_schema=False)
def new_invoice_page(
    request: Request,
    number: Number,
    session: ReadSessionDep,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.SUPPLIER_INVOICES_ENTER)],
) -> Response:
    """The form for the supplier's invoice of a stock purchase order: one row per line, the
    quantity received and not yet invoiced and the PO's price filled in."""
    return _entry_page(
        request,
        principal,
        session,
        number,
        values={},
        tolerance=state.settings.invoice_match_tolerance_percent,
    )


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError("the invoice date is a date, like 2026-11-20") from exc


def _form_invoice(number: str, form: dict[str, str]) -> SupplierInvoiceCreate:
    """The invoice typed into the form; ValueError naming what is wrong."""
    lines = []
    for name, value in form.items():
        if not name.startswith("qty:") or value.strip() in ("", "0"):
            continue
        sku = name[4:]
        if not value.strip().isdigit():
            raise ValueError(f"{sku}: a whole number of units")
        try:
            price = Decimal(form.get(f"price:{sku}", "").strip())
        except InvalidOperation as exc:
            raise ValueError(f"{sku}: the unit price is a number, like 12.50") from exc
        lines.append(SupplierInvoiceLineIn(sku=sku, qty=int(value.strip()), unit_price=price))
    if not lines:
        raise ValueError("type the quantity invoiced on at least one line")
    total = form.get("total", "").strip()
    return SupplierInvoiceCreate(
        purchase_order=number,
        supplier_number=form.get("supplier_number", ""),
        invoice_date=_date(form.get("invoice_date", "")),
        total=Decimal(total) if total else None,
        lines=lines,
    )


@router.post(f"{ORDERS}/{{number}}/invoice", include_in_schema=False, dependencies=[CsrfChecked])
async def enter_invoice(
    request: Request,
    number: Number,
    session: SessionDep,
    state: StateDep,
    web: WebSessionDep,
    principal: Annotated[Principal, require_page(Permission.SUPPLIER_INVOICES_ENTER)],
) -> Response:
    """Enter the invoice from the form; it is matched at once (approved, or held with a task)."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    tolerance = state.settings.invoice_match_tolerance_percent
    try:
        invoice = invoice_service.enter(
            session=session,
            invoice_in=_form_invoice(number, form),
            tolerance_percent=tolerance,
            actor=principal.actor(Source.PAGE),
        )
    except (ValueError, InvalidOperation, DomainError) as exc:  # ValidationError is a ValueError
        session.rollback()
        if isinstance(exc, ValidationError):
            text = describe(exc)
        elif isinstance(exc, DomainError):
            text = exc.message
        else:
            text = str(exc)
        status_code = exc.status if isinstance(exc, DomainError) else 422
        return _entry_page(
            request,
            principal,
            session,
            number,
            values=form,
            error=text,
            tolerance=tolerance,
            status_code=status_code,
        )
    if invoice.status == SupplierInvoiceStatus.APPROVED:
        text = f"{invoice.number} matched the purchase order and is posted as a payable."
    else:
        count = len(invoice.differences)
        text = f"{invoice.number} is held: {count} difference(s) went to the accountants."
    return flash_redirect(request, web, f"{INVOICES}/{invoice.number}", text)


@router.get(f"{INVOICES}/{{number}}", include_in_schema=False)
def invoice_page(
    request: Request,
    number: Number,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.SUPPLIER_INVOICES_VIEW)],
) -> Response:
    """One supplier invoice: each line's match, the decision on a held one, the payment."""
    invoice = invoice_service.get_by_number(session=session, number=number)
    if invoice is None:
        return page_refusal(request, NotFound(f"no supplier invoice {number}"), principal=principal)
    context = {
        "page": "purchasing",
        "invoice": invoice_service.to_public(session=session, invoice=invoice),
        "can_decide": principal.can(Permission.SUPPLIER_INVOICES_APPROVE),
        "can_pay": principal.can(Permission.SUPPLIER_PAYMENTS_RECORD),
        "history": record_history(session, principal, "supplier_invoice", number),
    }
    return render(request, "purchasing_invoice.html", context, principal=principal)


@router.post(f"{INVOICES}/{{number}}/decide", include_in_schema=False, dependencies=[CsrfChecked])
async def decide_invoice(
    request: Request,
    number: Number,
    session: SessionDep,
    web: WebSessionDep,
    principal: Annotated[Principal, require_page(Permission.SUPPLIER_INVOICES_APPROVE)],
) -> Response:
    """Approve (posted as a payable) or reject a held invoice, with the reason."""
    form = await request.form()
    decision, reason = form.get("decision"), form.get("reason")
    back = f"{INVOICES}/{number}"
    try:
        invoice = invoice_service.decide(
            session=session,
            number=number,
            approve=decision == "approve",
            reason=reason[:2000] if isinstance(reason, str) else "",
            actor=principal.actor(Source.PAGE),
        )
    except DomainError as exc:
        session.rollback()
        return page_refusal(
            request, exc, web=web, flash="Not decided", back=back, principal=principal
        )
    return flash_redirect(request, web, back, f"{number} {invoice.status}.")


@router.post(f"{INVOICES}/{{number}}/payment", include_in_schema=False, dependencies=[CsrfChecked])
async def pay_invoice(
    request: Request,
    number: Number,
    session: SessionDep,
    web: WebSessionDep,
    principal: Annotated[Principal, require_page(Permission.SUPPLIER_PAYMENTS_RECORD)],
) -> Response:
    """Record that the approved invoice was paid to the supplier."""
    form = await request.form()
    reference, paid_on = form.get("reference"), form.get("paid_on")
    back = f"{INVOICES}/{number}"
    try:
        payment_in = SupplierPaymentIn(
            paid_on=paid_on or None if isinstance(paid_on, str) else None,
            reference=reference[:200] or None if isinstance(reference, str) else None,
        )
        invoice_service.pay(
            session=session,
            number=number,
            payment_in=payment_in,
            actor=principal.actor(Source.PAGE),
        )
    except ValidationError as exc:
        return page_refusal(
            request,
            Invalid(describe(exc)),
            web=web,
            flash="Not paid",
            back=back,
            principal=principal,
        )
    except DomainError as exc:
        session.rollback()
        return page_refusal(request, exc, web=web, flash="Not paid", back=back, principal=principal)
    return flash_redirect(request, web, back, f"{number} paid.")
