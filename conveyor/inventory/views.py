"""Product and inventory endpoints."""

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, status

from api.deps import Principal, ReadSessionDep, SessionDep, StateDep, require
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.core.idempotency import scoped_key
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import (
    PickListLinePublic,
    Product,
    ProductCreate,
    ProductPublic,
    StockLevel,
    StockReceive,
    WarehouseCreate,
    WarehousePublic,
    WarehouseStock,
)
from conveyor.order import flows as order_flows

products_router = APIRouter()
inventory_router = APIRouter()
warehouses_router = APIRouter()
pick_lists_router = APIRouter()


def _level(session, product: Product) -> StockLevel:
    """Company-wide balances of the product, with each warehouse's."""
    return StockLevel(
        sku=product.sku,
        on_hand=product.on_hand,
        committed=product.committed,
        available=product.on_hand - product.committed,
        warehouses=[
            WarehouseStock(
                warehouse=b.warehouse,
                location=b.location,
                on_hand=b.on_hand,
                committed=b.committed,
                available=b.on_hand - b.committed,
            )
            for b in inventory_service.balances(session=session, sku=product.sku)
        ],
    )


@products_router.post("", status_code=status.HTTP_201_CREATED, response_model=ProductPublic)
def create_product(
    product_in: ProductCreate,
    session: SessionDep,
    state: StateDep,
    principal: Annotated[Principal, require(Permission.PRODUCTS_MANAGE)],
) -> ProductPublic:
    """Add a product with its opening stock (admin)."""
    try:
        product = inventory_service.create(
            session=session,
            product_in=product_in,
            default_warehouse=state.settings.default_warehouse,
            actor=principal.actor(Source.API),
        )
    except inventory_service.ProductExistsError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except inventory_service.UnknownSkuError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return ProductPublic.model_validate(product)


@products_router.get("/{sku}/options", response_model=list[ProductPublic])
def list_options(
    sku: str, session: ReadSessionDep, _: Annotated[Principal, require(Permission.STOCK_VIEW)]
) -> list[ProductPublic]:
    """The products offered as options with this one (for upselling), in the offered order."""
    product = inventory_service.get_by_sku(session=session, sku=sku)
    if product is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown SKU {sku}")
    offered = inventory_service.get_many(session=session, skus=product.options)
    return [ProductPublic.model_validate(offered[o]) for o in product.options if o in offered]


@inventory_router.get("/{sku}", response_model=StockLevel)
def read_stock(
    sku: str, session: ReadSessionDep, _: Annotated[Principal, require(Permission.STOCK_VIEW)]
) -> StockLevel:
    """On-hand, committed and available stock of a SKU, in total and per warehouse."""
    product = inventory_service.get_by_sku(session=session, sku=sku)
    if product is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown SKU {sku}")
    return _level(session, product)


@inventory_router.post("/{sku}/receive", response_model=StockLevel)
async def receive_stock(
    sku: str,
    receipt: StockReceive,
    state: StateDep,
    principal: Annotated[Principal, require(Permission.STOCK_RECEIVE)],
    session: ReadSessionDep,
    idempotency_key: str | None = Header(default=None, max_length=150),
) -> StockLevel:
    """Goods received into a warehouse (default: the default one), optionally into a new bin:
    on-hand rises and backordered orders for the SKU resume.

    Send an `Idempotency-Key` header to make a retried receipt count once.
    """
    key = scoped_key("receipt", sku, idempotency_key)
    try:
        product, waiting = await order_flows.receive_stock(
            state,
            key=key,
            sku=sku,
            qty=receipt.qty,
            warehouse=receipt.warehouse,
            location=receipt.location,
            actor=principal.actor(Source.API),
        )
    except inventory_service.UnknownSkuError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except inventory_service.UnknownWarehouseError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return _level(session, product)


@warehouses_router.post("", status_code=status.HTTP_201_CREATED, response_model=WarehousePublic)
def create_warehouse(
    warehouse_in: WarehouseCreate,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.PRODUCTS_MANAGE)],
) -> WarehousePublic:
    """Add a warehouse (admin)."""
    try:
        warehouse = inventory_service.create_warehouse(
            session=session, warehouse_in=warehouse_in, actor=principal.actor(Source.API)
        )
    except inventory_service.WarehouseExistsError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return WarehousePublic.model_validate(warehouse)


@warehouses_router.get("", response_model=list[WarehousePublic])
def list_warehouses(
    session: ReadSessionDep, _: Annotated[Principal, require(Permission.STOCK_VIEW)]
) -> list[WarehousePublic]:
    """Every warehouse, by code."""
    return [
        WarehousePublic.model_validate(w)
        for w in inventory_service.list_warehouses(session=session)
    ]


@pick_lists_router.get("/{order_number}", response_model=list[PickListLinePublic])
def read_pick_list(
    order_number: str,
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.PICKING_VIEW)],
) -> list[PickListLinePublic]:
    """The order's pick list: by shipment, then warehouse and bin, with any staging location."""
    lines = inventory_service.pick_list(session=session, order_number=order_number)
    if lines is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown order {order_number}")
    return [PickListLinePublic.model_validate(line) for line in lines]
