"""Supplier invoice endpoints: enter one against a stock purchase order (matched three ways on
entry), list and read them, approve or reject a held one, record its payment."""

from typing import Annotated

from fastapi import APIRouter, Query, status

from api.deps import Principal, ReadSessionDep, SessionDep, StateDep, require
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.purchasing import invoices as invoice_service
from conveyor.purchasing import service as purchasing_service
from conveyor.purchasing import suppliers as supplier_service
from conveyor.purchasing.invoice_models import (
    SupplierInvoiceCreate,
    SupplierInvoiceDecision,
    SupplierInvoicePublic,
    SupplierInvoicesPublic,
    SupplierInvoiceStatus,
    SupplierPaymentIn,
)

router = APIRouter()


@router.get("", response_model=SupplierInvoicesPublic)
def list_supplier_invoices(
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.SUPPLIER_INVOICES_VIEW)],
    invoice_status: Annotated[SupplierInvoiceStatus | None, Query(alias="status")] = None,
    supplier: Annotated[str | None, Query(max_length=32)] = None,
    purchase_order: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> SupplierInvoicesPublic:
    """Supplier invoices newest first, by `status` (held, approved, rejected, paid),
    `supplier` (code) and `purchase_order` (number)."""
    supplier_id = (
        supplier_service.required(session=session, code=supplier.upper()).id if supplier else None
    )
    purchase_id = None
    if purchase_order:
        purchase = purchasing_service.get_by_number(session=session, number=purchase_order)
        purchase_id = purchase.id if purchase else -1
    rows, count = invoice_service.list_invoices(
        session=session,
        status=invoice_status,
        supplier_id=supplier_id,
        purchase_order_id=purchase_id,
        limit=limit,
    )
    return SupplierInvoicesPublic(
        data=[invoice_service.to_public(session=session, invoice=i) for i in rows], count=count
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SupplierInvoicePublic)
def enter_supplier_invoice(
    invoice_in: SupplierInvoiceCreate,
    session: SessionDep,
    state: StateDep,
    principal: Annotated[Principal, require(Permission.SUPPLIER_INVOICES_ENTER)],
) -> SupplierInvoicePublic:
    """Enter a supplier's invoice for a stock purchase order; each line is matched against its
    purchase order line (invoiced vs received and ordered, unit price vs the PO's) within
    CONVEYOR_INVOICE_MATCH_TOLERANCE_PERCENT. Matched: `approved` (posted as a payable);
    otherwise `held` with a task for the accountants naming each difference. 409: the
    supplier's invoice number was entered before; 422: unknown PO or line, another currency."""
    invoice = invoice_service.enter(
        session=session,
        invoice_in=invoice_in,
        tolerance_percent=state.settings.invoice_match_tolerance_percent,
        actor=principal.actor(Source.API),
    )
    return invoice_service.to_public(session=session, invoice=invoice)


@router.get("/{number}", response_model=SupplierInvoicePublic)
def read_supplier_invoice(
    number: str,
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.SUPPLIER_INVOICES_VIEW)],
) -> SupplierInvoicePublic:
    """One supplier invoice with each line's match."""
    invoice = invoice_service.required(session=session, number=number)
    return invoice_service.to_public(session=session, invoice=invoice)


@router.post("/{number}/approve", response_model=SupplierInvoicePublic)
def approve_supplier_invoice(
    number: str,
    decision: SupplierInvoiceDecision,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.SUPPLIER_INVOICES_APPROVE)],
) -> SupplierInvoicePublic:
    """Approve a held invoice despite its differences (the reason is audited); it is posted as
    a payable and its task completed. 409 unless held."""
    invoice = invoice_service.decide(
        session=session,
        number=number,
        approve=True,
        reason=decision.reason,
        actor=principal.actor(Source.API),
    )
    return invoice_service.to_public(session=session, invoice=invoice)


@router.post("/{number}/reject", response_model=SupplierInvoicePublic)
def reject_supplier_invoice(
    number: str,
    decision: SupplierInvoiceDecision,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.SUPPLIER_INVOICES_APPROVE)],
) -> SupplierInvoicePublic:
    """Reject a held invoice (the reason is audited): nothing is posted, its quantities no
    longer count as invoiced, its task is completed. 409 unless held."""
    invoice = invoice_service.decide(
        session=session,
        number=number,
        approve=False,
        reason=decision.reason,
        actor=principal.actor(Source.API),
    )
    return invoice_service.to_public(session=session, invoice=invoice)


@router.post("/{number}/payment", response_model=SupplierInvoicePublic)
def pay_supplier_invoice(
    number: str,
    payment_in: SupplierPaymentIn,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.SUPPLIER_PAYMENTS_RECORD)],
) -> SupplierInvoicePublic:
    """The approved invoice was paid to the supplier in full (the journal posts accounts
    payable against the bank account of the method). 409 unless approved."""
    invoice = invoice_service.pay(
        session=session, number=number, payment_in=payment_in, actor=principal.actor(Source.API)
    )
    return invoice_service.to_public(session=session, invoice=invoice)
