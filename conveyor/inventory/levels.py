"""The stock list: each SKU in each warehouse with its balances, incoming goods and low flag."""

from typing import Any

from sqlalchemy import func, literal
from sqlmodel import Session, col, or_, select

from conveyor.core.db import contains_text, page
from conveyor.inventory.models import Product, ProductKind, StockBalance, StockRow
from conveyor.purchasing.models import (
    PurchaseOrder,
    PurchaseOrderKind,
    PurchaseOrderLine,
    PurchaseOrderStatus,
)

# What is on open stock purchase orders and not received yet, per SKU (company-wide); a
# drop-ship purchase order's goods go to the customer, not into stock.
_INCOMING = (
    select(
        PurchaseOrderLine.sku,
        func.sum(col(PurchaseOrderLine.qty) - col(PurchaseOrderLine.received_qty)).label("qty"),
    )
    .join(PurchaseOrder, col(PurchaseOrder.id) == col(PurchaseOrderLine.purchase_order_id))
    .where(PurchaseOrder.kind == PurchaseOrderKind.STOCK)
    .where(PurchaseOrder.status == PurchaseOrderStatus.OPEN)
    .group_by(col(PurchaseOrderLine.sku))
    .subquery("incoming")
)
_AVAILABLE = col(StockBalance.on_hand) - col(StockBalance.committed)
# The columns of a row, in StockRow's order up to `incoming`; also what the list sorts by.
SORTS: dict[str, Any] = {
    "sku": col(StockBalance.sku),
    "name": col(Product.name),
    "warehouse": col(StockBalance.warehouse),
    "location": col(StockBalance.location),
    "on_hand": col(StockBalance.on_hand),
    "committed": col(StockBalance.committed),
    "available": _AVAILABLE,
    "incoming": func.coalesce(_INCOMING.c.qty, 0),
}
TIEBREAK = col(StockBalance.id)
_NAMES = (*SORTS, "reorder_level", "low")


def search(
    *,
    default_level: int,
    q: str | None = None,
    warehouse: str | None = None,
    low_only: bool = False,
) -> Any:
    """The stock list's query: a text in SKU or name, one warehouse, only low stock (available
    at or below the reorder level, `default_level` where a balance has none).

    Drop-ship products and services keep no stock and are left out.
    """
    level = func.coalesce(col(StockBalance.reorder_level), literal(default_level))
    query = (
        select(*SORTS.values(), level.label("reorder_level"), (_AVAILABLE <= level).label("low"))
        .join(Product, col(Product.sku) == col(StockBalance.sku))
        .outerjoin(_INCOMING, _INCOMING.c.sku == col(StockBalance.sku))
        .where(col(Product.drop_ship).is_(False))
        .where(col(Product.kind) != ProductKind.SERVICE)
    )
    if q:
        query = query.where(or_(contains_text(StockBalance.sku, q), contains_text(Product.name, q)))
    if warehouse:
        query = query.where(StockBalance.warehouse == warehouse)
    if low_only:
        query = query.where(_AVAILABLE <= level)
    return query


def to_row(row: Any) -> StockRow:
    """A result row of `search` as a StockRow."""
    return StockRow(**dict(zip(_NAMES, row, strict=True)))


def list_rows(
    *,
    session: Session,
    query: Any,
    sort: str = "sku",
    descending: bool = False,
    limit: int,
    offset: int = 0,
) -> tuple[list[StockRow], int]:
    """One page of a `search` query sorted by `sort` (a SORTS key), and how many match in all."""
    key = SORTS[sort]
    order = (key.desc() if descending else key.asc(), TIEBREAK)
    rows, count = page(session, query, *order, limit=limit, offset=offset)
    return [to_row(row) for row in rows], count
