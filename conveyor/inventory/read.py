"""Products as the staff lists and the product page read them: the filtered query, its sort
columns, and a product's stock level per warehouse."""

import json
from typing import Any

from sqlalchemy import String, cast
from sqlmodel import Session, col, select

from conveyor.core.db import contains_text
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import Product, StockLevel, WarehouseStock, keeps_stock

SORTS: dict[str, Any] = {
    "sku": col(Product.sku),
    "name": col(Product.name),
    "price": col(Product.price),
    "on_hand": col(Product.on_hand),
    "committed": col(Product.committed),
    "available": col(Product.on_hand) - col(Product.committed),
}


def search(*, name: str | None = None, sku: str | None = None, tag: str | None = None) -> Any:
    """Products whose name or SKU contains the text given, carrying `tag` when given."""
    query = select(Product)
    if name:
        query = query.where(contains_text(col(Product.name), name))
    if sku:
        query = query.where(contains_text(col(Product.sku), sku))
    if tag:
        # Tags are a JSON list: the tag as a quoted JSON string matches one whole tag only.
        query = query.where(contains_text(cast(col(Product.tags), String), json.dumps(tag)))
    return query


def stock_level(session: Session, product: Product) -> StockLevel:
    """Company-wide on hand, committed and available, with each warehouse's."""
    return StockLevel(
        sku=product.sku,
        on_hand=product.on_hand,
        committed=product.committed,
        available=product.on_hand - product.committed,
        stocked=keeps_stock(product),
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
