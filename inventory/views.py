"""Product and inventory endpoints."""

from uuid import uuid4

from fastapi import APIRouter, Header, HTTPException, status

from api.deps import AdminPrincipal, CurrentPrincipal, ReadSessionDep, SessionDep, StateDep
from inventory import service as inventory_service
from inventory.models import ProductCreate, ProductPublic, StockLevel, StockReceive
from order import flows as order_flows

products_router = APIRouter()
inventory_router = APIRouter()


@products_router.post("", status_code=status.HTTP_201_CREATED, response_model=ProductPublic)
def create_product(
    product_in: ProductCreate, session: SessionDep, _: AdminPrincipal
) -> ProductPublic:
    """Add a product with its opening stock (admin)."""
    try:
        product = inventory_service.create(session=session, product_in=product_in)
    except inventory_service.ProductExistsError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except inventory_service.UnknownSkuError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return ProductPublic.model_validate(product)


@products_router.get("/{sku}/options", response_model=list[ProductPublic])
def list_options(sku: str, session: ReadSessionDep, _: CurrentPrincipal) -> list[ProductPublic]:
    """The products offered as options with this one (for upselling), in the offered order."""
    product = inventory_service.get_by_sku(session=session, sku=sku)
    if product is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown SKU {sku}")
    offered = inventory_service.get_many(session=session, skus=product.options)
    return [ProductPublic.model_validate(offered[o]) for o in product.options if o in offered]


@inventory_router.get("/{sku}", response_model=StockLevel)
def read_stock(sku: str, session: ReadSessionDep, _: CurrentPrincipal) -> StockLevel:
    """On-hand, committed and available stock of a SKU."""
    product = inventory_service.get_by_sku(session=session, sku=sku)
    if product is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown SKU {sku}")
    return StockLevel(
        sku=product.sku,
        on_hand=product.on_hand,
        committed=product.committed,
        available=product.on_hand - product.committed,
    )


@inventory_router.post("/{sku}/receive", response_model=StockLevel)
async def receive_stock(
    sku: str,
    receipt: StockReceive,
    state: StateDep,
    principal: CurrentPrincipal,
    idempotency_key: str | None = Header(default=None),
) -> StockLevel:
    """Goods received: on-hand rises and backordered orders for the SKU resume.

    Send an `Idempotency-Key` header to make a retried receipt count once.
    """
    if not (principal.has_role("warehouse") or principal.has_role("purchasing")):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "receiving needs the warehouse role")
    key = f"receipt:{idempotency_key or uuid4()}"
    try:
        product, waiting = await order_flows.receive_stock(state, key=key, sku=sku, qty=receipt.qty)
    except inventory_service.UnknownSkuError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return StockLevel(
        sku=product.sku,
        on_hand=product.on_hand,
        committed=product.committed,
        available=product.on_hand - product.committed,
    )
