"""Purchasing endpoints: suppliers and their prices; purchase orders (an order's drop-ship ones,
stock ones created, mailed and received); the supplier's shipment confirmation."""

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
from conveyor.purchasing import service as purchasing_service
from conveyor.purchasing import suppliers as supplier_service
from conveyor.purchasing.models import (
    PurchaseOrderKind,
    PurchaseOrderPublic,
    PurchaseOrderStatus,
    PurchaseReceiptIn,
    StockPurchaseCreate,
    SupplierCreate,
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
