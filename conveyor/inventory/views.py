"""Product and inventory endpoints."""

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, status

from api.deps import Principal, ReadSessionDep, SessionDep, StateDep, require
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.core.errors import NotFound
from conveyor.core.idempotency import scoped_key
from conveyor.inventory import catalogue
from conveyor.inventory import levels as stock_levels
from conveyor.inventory import moves as stock_moves
from conveyor.inventory import service as inventory_service
from conveyor.inventory import warehouses as warehouse_service
from conveyor.inventory.models import (
    PickListLinePublic,
    Product,
    ProductCreate,
    ProductPublic,
    ProductUpdate,
    ReorderLevel,
    StockAdjust,
    StockLevel,
    StockMove,
    StockReceive,
    StockRowsPublic,
    Warehouse,
    WarehouseCreate,
    WarehousePublic,
    WarehouseUpdate,
)
from conveyor.inventory.read import stock_level
from conveyor.order import flows as order_flows

products_router = APIRouter()
inventory_router = APIRouter()
warehouses_router = APIRouter()
pick_lists_router = APIRouter()


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


@products_router.patch("/{sku}", response_model=ProductPublic)
def update_product(
    sku: str,
    product_in: ProductUpdate,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.PRODUCTS_MANAGE)],
) -> ProductPublic:
    """Change a product's name, price, kind, tags, tax class, options, drop-ship, supplier or bins
    per warehouse (`bins: {"MAIN": "B-07"}`). 422: a rule broken; 409: the product is retired."""
    product = inventory_service.get_by_sku(session=session, sku=sku)
    if product is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown SKU {sku}")
    product = catalogue.update(
        session=session, product=product, product_in=product_in, actor=principal.actor(Source.API)
    )
    return ProductPublic.model_validate(product)


@products_router.post("/{sku}/retire", response_model=ProductPublic)
def retire_product(
    sku: str,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.PRODUCTS_MANAGE)],
) -> ProductPublic:
    """Retire a product: kept for its history, no longer orderable. 409 while open orders or
    quotes hold it (the answer names them)."""
    product = inventory_service.get_by_sku(session=session, sku=sku)
    if product is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown SKU {sku}")
    product = catalogue.retire(session=session, product=product, actor=principal.actor(Source.API))
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


@inventory_router.get("", response_model=StockRowsPublic)
def list_stock(
    session: ReadSessionDep,
    state: StateDep,
    _: Annotated[Principal, require(Permission.STOCK_VIEW)],
    q: Annotated[str | None, Query(max_length=100)] = None,
    warehouse: Annotated[str | None, Query(max_length=16)] = None,
    low: bool = False,
    sort: Annotated[str, Query(pattern="^-?(" + "|".join(stock_levels.SORTS) + ")$")] = "sku",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> StockRowsPublic:
    """The stock list: each SKU per warehouse with on-hand, committed, available, incoming (open
    purchase orders) and the low-stock flag; filtered, sorted (`-` first: descending), paged."""
    query = stock_levels.search(
        default_level=state.settings.low_stock_level,
        q=q,
        warehouse=warehouse.upper() if warehouse else None,
        low_only=low,
    )
    rows, count = stock_levels.list_rows(
        session=session,
        query=query,
        sort=sort.lstrip("-"),
        descending=sort.startswith("-"),
        limit=page_size,
        offset=(page - 1) * page_size,
    )
    return StockRowsPublic(data=rows, count=count, page=page, page_size=page_size)


@inventory_router.get("/{sku}", response_model=StockLevel)
def read_stock(
    sku: str, session: ReadSessionDep, _: Annotated[Principal, require(Permission.STOCK_VIEW)]
) -> StockLevel:
    """On-hand, committed and available stock of a SKU, in total and per warehouse."""
    product = inventory_service.get_by_sku(session=session, sku=sku)
    if product is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown SKU {sku}")
    return stock_level(session, product)


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
    on-hand rises and backordered orders for the SKU resume. An unknown or retired warehouse
    is refused (422).

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
            note=receipt.reference,
            unit_cost=receipt.unit_cost,
            actor=principal.actor(Source.API),
        )
    except inventory_service.UnknownSkuError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except (inventory_service.UnknownWarehouseError, inventory_service.NotStockedError) as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return stock_level(session, product)


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


@inventory_router.post("/{sku}/move", response_model=StockLevel)
def move_stock(
    sku: str,
    move_in: StockMove,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.STOCK_RECEIVE)],
    idempotency_key: str | None = Header(default=None, max_length=150),
) -> StockLevel:
    """Move `qty` to another warehouse (one ledger transfer: out of one, into the other), or all
    of the SKU to another bin of the same warehouse. 409 when not that much is available."""
    stock_moves.move(
        session=session,
        key=scoped_key("move", sku, idempotency_key),
        sku=sku,
        move_in=move_in,
        actor=principal.actor(Source.API),
    )
    return stock_level(session, _product(session, sku))


@inventory_router.post("/{sku}/adjust", response_model=StockLevel)
def adjust_stock(
    sku: str,
    adjust_in: StockAdjust,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.STOCK_ADJUST)],
    idempotency_key: str | None = Header(default=None, max_length=150),
) -> StockLevel:
    """Correct a warehouse balance with a reason (count correction, damage, ...); 409 when it
    would take away stock that is not there or is committed to orders."""
    stock_moves.adjust(
        session=session,
        key=scoped_key("adjust", sku, idempotency_key),
        sku=sku,
        adjust_in=adjust_in,
        actor=principal.actor(Source.API),
    )
    return stock_level(session, _product(session, sku))


@inventory_router.post("/{sku}/reorder-level", response_model=StockLevel)
def set_reorder_level(
    sku: str,
    level_in: ReorderLevel,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.STOCK_RECEIVE)],
) -> StockLevel:
    """Set the SKU's reorder level in a warehouse (null: CONVEYOR_LOW_STOCK_LEVEL) and, if sent,
    the quantity replenishment suggests buying at it (null: none)."""
    stock_moves.set_reorder_level(
        session=session, sku=sku, level_in=level_in, actor=principal.actor(Source.API)
    )
    return stock_level(session, _product(session, sku))


def _product(session, sku: str) -> Product:
    """The product after a stock change, its balances read afresh (the guarded UPDATEs bypass
    the objects this session holds)."""
    session.expire_all()
    product = inventory_service.get_by_sku(session=session, sku=sku)
    if product is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown SKU {sku}")
    return product


# ---- warehouse upkeep (settings) -----------------------------------------------------------


def _warehouse(session: SessionDep, code: str) -> Warehouse:
    warehouse = inventory_service.get_warehouse(session=session, code=code.strip().upper()[:16])
    if warehouse is None:
        raise NotFound(f"unknown warehouse {code[:16]}")
    return warehouse


@warehouses_router.patch("/{code}", response_model=WarehousePublic)
def update_warehouse(
    code: str,
    changes: WarehouseUpdate,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.PRODUCTS_MANAGE)],
) -> WarehousePublic:
    """Change a warehouse's name, address or staging location (the code stays); checked as a
    new warehouse is (422); 409 when it is retired."""
    warehouse = warehouse_service.update(
        session=session,
        warehouse=_warehouse(session, code),
        changes=changes,
        actor=principal.actor(Source.API),
    )
    return WarehousePublic.model_validate(warehouse)


@warehouses_router.post("/{code}/retire", response_model=WarehousePublic)
def retire_warehouse(
    code: str,
    session: SessionDep,
    state: StateDep,
    principal: Annotated[Principal, require(Permission.PRODUCTS_MANAGE)],
) -> WarehousePublic:
    """Retire a warehouse; 409 saying why while it holds stock, open orders ship from it, or
    it is the default warehouse."""
    warehouse = warehouse_service.retire(
        session=session,
        warehouse=_warehouse(session, code),
        default_warehouse=state.settings.default_warehouse,
        actor=principal.actor(Source.API),
    )
    return WarehousePublic.model_validate(warehouse)
