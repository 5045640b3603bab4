"""Purchasing endpoints: suppliers and their prices; purchase orders (an order's drop-ship ones,
stock ones created, mailed and received); the supplier's shipment confirmation; supplier
invoices (entered and matched, decided when held, paid)."""

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, status

from api.deps import Principal, ReadSessionDep, SessionDep, StateDep, require
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.core.errors import NotFound
from conveyor.core.idempotency import scoped_key
from conveyor.core.models import utcnow
from conveyor.order import read as order_read
from conveyor.purchasing import flows as purchasing_flows
from conveyor.purchasing import group_discounts
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
from conveyor.purchasing.models import (
    PurchaseOrderKind,
    PurchaseOrderPublic,
    PurchaseOrderStatus,
    PurchaseReceiptIn,
    StockPurchaseCreate,
    SupplierCreate,
    SupplierGroupDiscountCreate,
    SupplierGroupDiscountPublic,
    SupplierPriceCreate,
    SupplierPricePublic,
    SupplierPublic,
    SupplierQuote,
    SupplierShipment,
    SuppliersPublic,
    SupplierUpdate,
)

router = APIRouter()
suppliers_router = APIRouter()
supplier_invoices_router = APIRouter()


# ---- suppliers --------------------------------------------------------------------------------


@suppliers_router.get("", response_model=SuppliersPublic)
def list_suppliers(
    session: ReadSessionDep, _: Annotated[Principal, require(Permission.PURCHASING_VIEW)]
) -> SuppliersPublic:
    """Every supplier, by code."""
    rows = supplier_service.list_all(session=session)
    return SuppliersPublic(data=[SupplierPublic.model_validate(s) for s in rows], count=len(rows))


@suppliers_router.post("", status_code=status.HTTP_201_CREATED, response_model=SupplierPublic)
def create_supplier(
    supplier_in: SupplierCreate,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.PURCHASING_MANAGE)],
) -> SupplierPublic:
    """Add a supplier (contacts, address, payment terms, currency, lead time); 409: the code
    is taken."""
    supplier = supplier_service.create(
        session=session, supplier_in=supplier_in, actor=principal.actor(Source.API)
    )
    return SupplierPublic.model_validate(supplier)


@suppliers_router.get("/best-price", response_model=SupplierQuote)
def best_price(
    sku: Annotated[str, Query(max_length=64)],
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.PURCHASING_VIEW)],
    qty: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> SupplierQuote:
    """Whom to buy `qty` of a SKU from today: a preferred supplier quoting for the quantity,
    else the cheapest net price; 404 when no supplier quotes."""
    quote = supplier_service.quote_for(session=session, sku=sku, qty=qty, on=utcnow().date())
    if quote is None:
        raise NotFound(f"no supplier quotes for {qty} x {sku}")
    return quote


@suppliers_router.get("/{code}", response_model=SupplierPublic)
def read_supplier(
    code: str,
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.PURCHASING_VIEW)],
) -> SupplierPublic:
    """One supplier."""
    return SupplierPublic.model_validate(supplier_service.required(session=session, code=code))


@suppliers_router.patch("/{code}", response_model=SupplierPublic)
def update_supplier(
    code: str,
    changes: SupplierUpdate,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.PURCHASING_MANAGE)],
) -> SupplierPublic:
    """Change a supplier (the code stays); checked as a new one is (422)."""
    supplier = supplier_service.update(
        session=session,
        supplier=supplier_service.required(session=session, code=code),
        changes=changes,
        actor=principal.actor(Source.API),
    )
    return SupplierPublic.model_validate(supplier)


@suppliers_router.get("/{code}/prices", response_model=list[SupplierPricePublic])
def list_prices(
    code: str,
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.PURCHASING_VIEW)],
) -> list[SupplierPricePublic]:
    """The supplier's prices by SKU, quantity break and start date."""
    supplier = supplier_service.required(session=session, code=code)
    return [
        supplier_service.price_public(price, supplier)
        for price in supplier_service.prices(session=session, supplier_id=supplier.id)
    ]


@suppliers_router.post(
    "/{code}/prices", status_code=status.HTTP_201_CREATED, response_model=SupplierPricePublic
)
def add_price(
    code: str,
    price_in: SupplierPriceCreate,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.PURCHASING_MANAGE)],
) -> SupplierPricePublic:
    """Add a price for an item: from a quantity (a break), for a period, with a discount; 409
    when the supplier has one for the same SKU, quantity and start."""
    supplier = supplier_service.required(session=session, code=code)
    price = supplier_service.add_price(
        session=session, supplier=supplier, price_in=price_in, actor=principal.actor(Source.API)
    )
    return supplier_service.price_public(price, supplier)


@suppliers_router.delete("/{code}/prices/{price_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_price(
    code: str,
    price_id: int,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.PURCHASING_MANAGE)],
) -> None:
    """Remove one of the supplier's prices."""
    supplier_service.delete_price(
        session=session,
        supplier=supplier_service.required(session=session, code=code),
        price_id=price_id,
        actor=principal.actor(Source.API),
    )


@suppliers_router.get("/{code}/group-discounts", response_model=list[SupplierGroupDiscountPublic])
def list_group_discounts(
    code: str,
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.PURCHASING_VIEW)],
) -> list[SupplierGroupDiscountPublic]:
    """The supplier's discounts by item group, by group, quantity and start date."""
    supplier = supplier_service.required(session=session, code=code)
    return [
        group_discounts.public(discount, supplier)
        for discount in group_discounts.of_supplier(session=session, supplier_id=supplier.id)
    ]


@suppliers_router.post(
    "/{code}/group-discounts",
    status_code=status.HTTP_201_CREATED,
    response_model=SupplierGroupDiscountPublic,
)
def add_group_discount(
    code: str,
    discount_in: SupplierGroupDiscountCreate,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.PURCHASING_MANAGE)],
) -> SupplierGroupDiscountPublic:
    """Add a discount on every item of an item group: from a quantity, for a period; 409 when
    the supplier has one for the same group, quantity and start."""
    supplier = supplier_service.required(session=session, code=code)
    discount = group_discounts.add(
        session=session,
        supplier=supplier,
        discount_in=discount_in,
        actor=principal.actor(Source.API),
    )
    return group_discounts.public(discount, supplier)


@suppliers_router.delete(
    "/{code}/group-discounts/{discount_id}", status_code=status.HTTP_204_NO_CONTENT
)
def delete_group_discount(
    code: str,
    discount_id: int,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.PURCHASING_MANAGE)],
) -> None:
    """Remove one of the supplier's group discounts."""
    group_discounts.delete(
        session=session,
        supplier=supplier_service.required(session=session, code=code),
        discount_id=discount_id,
        actor=principal.actor(Source.API),
    )


# ---- purchase orders --------------------------------------------------------------------------


@router.get("", response_model=list[PurchaseOrderPublic])
def list_purchase_orders(
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.PURCHASING_VIEW)],
    order: Annotated[str | None, Query(max_length=32)] = None,
    kind: PurchaseOrderKind | None = None,
    po_status: Annotated[PurchaseOrderStatus | None, Query(alias="status")] = None,
    supplier: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[PurchaseOrderPublic]:
    """The purchase orders of an order (`?order=<number>`, oldest first), or all of them newest
    first, by `kind` (drop_ship, stock), `status` and `supplier` (code)."""
    if order is not None:
        found = order_read.load(session, order)
        purchases = purchasing_service.list_for_order(session=session, order_id=found.id or 0)
    else:
        supplier_id = (
            supplier_service.required(session=session, code=supplier).id if supplier else None
        )
        purchases, _count = purchasing_service.list_purchase_orders(
            session=session, kind=kind, status=po_status, supplier_id=supplier_id, limit=limit
        )
    return [purchasing_service.to_public(session=session, purchase=p) for p in purchases]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PurchaseOrderPublic)
def create_purchase_order(
    purchase_in: StockPurchaseCreate,
    session: SessionDep,
    state: StateDep,
    principal: Annotated[Principal, require(Permission.PURCHASING_MANAGE)],
    idempotency_key: str | None = Header(default=None, max_length=150),
) -> PurchaseOrderPublic:
    """A purchase order for stock: lines priced from the supplier's price list unless given,
    delivered to a warehouse (default: the default one), expected after the supplier's lead
    time unless given. 422: unknown supplier, SKU or warehouse, no price, another currency.
    Send an `Idempotency-Key` header to make a retried create count once."""
    purchase = purchasing_service.create_stock(
        session=session,
        key=scoped_key("purchase", purchase_in.supplier, idempotency_key),
        purchase_in=purchase_in,
        default_warehouse=state.settings.default_warehouse,
        actor=principal.actor(Source.API),
    )
    return purchasing_service.to_public(session=session, purchase=purchase)


@router.get("/{number}", response_model=PurchaseOrderPublic)
def read_purchase_order(
    number: str,
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.PURCHASING_VIEW)],
) -> PurchaseOrderPublic:
    """One purchase order with its lines (received quantities) and totals."""
    purchase = purchasing_service.get_by_number(session=session, number=number)
    if purchase is None:
        raise NotFound(f"purchase order {number} not found")
    return purchasing_service.to_public(session=session, purchase=purchase)


@router.post("/{number}/send", response_model=PurchaseOrderPublic)
async def send_purchase_order(
    number: str,
    state: StateDep,
    principal: Annotated[Principal, require(Permission.PURCHASING_MANAGE)],
) -> PurchaseOrderPublic:
    """Mail a stock purchase order to its supplier (the `purchase_order` template, through the
    outbox); again: a resend."""
    return await purchasing_flows.send(state, number=number, actor=principal.actor(Source.API))


@router.post("/{number}/receipts", response_model=PurchaseOrderPublic)
async def receive_purchase_order(
    number: str,
    receipt_in: PurchaseReceiptIn,
    state: StateDep,
    principal: Annotated[Principal, require(Permission.STOCK_RECEIVE)],
    idempotency_key: str | None = Header(default=None, max_length=150),
) -> PurchaseOrderPublic:
    """Goods received against a stock purchase order into its warehouse, at the lines' prices
    (moving the average cost); backordered orders for the SKUs resume. 409 when a line would
    get more than its quantity plus CONVEYOR_RECEIPT_TOLERANCE_PERCENT (nothing is received),
    or the purchase order is received or cancelled. Send an `Idempotency-Key` header to make a
    retried receipt count once."""
    return await purchasing_flows.receive(
        state,
        number=number,
        key=scoped_key("po-receipt", number, idempotency_key),
        receipt_in=receipt_in,
        actor=principal.actor(Source.API),
    )


@router.post("/{number}/shipped", response_model=PurchaseOrderPublic)
async def confirm_shipped(
    number: str,
    shipment: SupplierShipment,
    state: StateDep,
    principal: Annotated[Principal, require(Permission.PURCHASING_CONFIRM)],
) -> PurchaseOrderPublic:
    """The supplier shipped the goods to the customer; the order goes on to invoicing.

    404: no such purchase order (answered by the domain error handler); 409: it is cancelled.
    """
    try:
        return await purchasing_flows.confirm_shipped(
            state, number=number, shipment=shipment, actor=principal.actor(Source.API)
        )
    except purchasing_service.PurchaseOrderError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


# ---- supplier invoices ------------------------------------------------------------------------


@supplier_invoices_router.get("", response_model=SupplierInvoicesPublic)
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


@supplier_invoices_router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=SupplierInvoicePublic
)
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


@supplier_invoices_router.get("/{number}", response_model=SupplierInvoicePublic)
def read_supplier_invoice(
    number: str,
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.SUPPLIER_INVOICES_VIEW)],
) -> SupplierInvoicePublic:
    """One supplier invoice with each line's match."""
    invoice = invoice_service.required(session=session, number=number)
    return invoice_service.to_public(session=session, invoice=invoice)


@supplier_invoices_router.post("/{number}/approve", response_model=SupplierInvoicePublic)
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


@supplier_invoices_router.post("/{number}/reject", response_model=SupplierInvoicePublic)
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


@supplier_invoices_router.post("/{number}/payment", response_model=SupplierInvoicePublic)
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
