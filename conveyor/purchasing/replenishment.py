"""Replenishment: the SKUs whose stock in a warehouse (available plus what open purchase orders
still bring there) is at or below their reorder point, what to buy and from whom; and the
purchase orders made from the chosen suggestions (one per supplier and warehouse)."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, col, select

from conveyor.audit.service import Actor
from conveyor.core.errors import Invalid
from conveyor.inventory.models import Product, ProductKind, StockBalance
from conveyor.purchasing import service as purchasing_service
from conveyor.purchasing import suppliers as supplier_service
from conveyor.purchasing.models import (
    PurchaseOrder,
    PurchaseOrderKind,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    StockPurchaseCreate,
    StockPurchaseLineIn,
)


@dataclass(frozen=True)
class Suggestion:
    """Buy `qty` of `sku` for `warehouse` (from `supplier` at `net_price`, when one quotes)."""

    sku: str
    name: str
    warehouse: str
    available: int
    incoming: int
    reorder_level: int
    qty: int
    supplier: str | None
    net_price: Decimal | None
    currency: str | None

    @property
    def ref(self) -> str:
        """How a form names the suggestion: `SKU@WAREHOUSE`."""
        return f"{self.sku}@{self.warehouse}"


def _incoming(session: Session) -> dict[tuple[str, str], int]:
    rows = session.exec(
        select(
            PurchaseOrderLine.sku,
            PurchaseOrder.warehouse,
            func.sum(col(PurchaseOrderLine.qty) - col(PurchaseOrderLine.received_qty)),
        )
        .join(PurchaseOrder, col(PurchaseOrder.id) == col(PurchaseOrderLine.purchase_order_id))
        .where(PurchaseOrder.kind == PurchaseOrderKind.STOCK)
        .where(PurchaseOrder.status == PurchaseOrderStatus.OPEN)
        .group_by(col(PurchaseOrderLine.sku), col(PurchaseOrder.warehouse))
    ).all()
    return {(sku, warehouse or ""): max(int(qty or 0), 0) for sku, warehouse, qty in rows}


def suggestions(*, session: Session, on: date) -> list[Suggestion]:
    """Every SKU and warehouse with a reorder point and quantity whose available stock plus
    what is on its way there is at or below the point, by SKU and warehouse."""
    incoming = _incoming(session)
    rows = session.exec(
        select(StockBalance, Product.name)
        .join(Product, col(Product.sku) == col(StockBalance.sku))
        .where(col(StockBalance.reorder_level).is_not(None))
        .where(col(StockBalance.reorder_qty).is_not(None))
        .where(col(Product.retired_at).is_(None))
        .where(col(Product.drop_ship).is_(False))
        .where(col(Product.kind) != ProductKind.SERVICE)
        .order_by(col(StockBalance.sku), col(StockBalance.warehouse))
    ).all()
    found = []
    for balance, name in rows:
        coming = incoming.get((balance.sku, balance.warehouse), 0)
        available = balance.on_hand - balance.committed
        level = balance.reorder_level or 0
        if available + coming > level:
            continue
        qty = balance.reorder_qty or 0
        quote = supplier_service.quote_for(session=session, sku=balance.sku, qty=qty, on=on)
        found.append(
            Suggestion(
                sku=balance.sku,
                name=name,
                warehouse=balance.warehouse,
                available=available,
                incoming=coming,
                reorder_level=level,
                qty=qty,
                supplier=quote.supplier if quote else None,
                net_price=quote.net_price if quote else None,
                currency=quote.currency if quote else None,
            )
        )
    return found


def order(
    *, session: Session, key: str, refs: list[str], default_warehouse: str, actor: Actor, on: date
) -> list[PurchaseOrder]:
    """Purchase orders for the chosen suggestions (`SKU@WAREHOUSE`), one per supplier and
    warehouse, at the suppliers' list prices; Invalid when one is no longer suggested or no
    supplier quotes for it."""
    current = {s.ref: s for s in suggestions(session=session, on=on)}
    groups: dict[tuple[str, str], list[Suggestion]] = defaultdict(list)
    for ref in refs:
        suggestion = current.get(ref)
        if suggestion is None:
            raise Invalid(f"{ref} is not suggested any more (received or ordered meanwhile?)")
        if suggestion.supplier is None:
            raise Invalid(f"no supplier quotes for {suggestion.qty} x {suggestion.sku}")
        groups[(suggestion.supplier, suggestion.warehouse)].append(suggestion)
    created = []
    for (supplier, warehouse), chosen in sorted(groups.items()):
        purchase_in = StockPurchaseCreate(
            supplier=supplier,
            warehouse=warehouse,
            lines=[StockPurchaseLineIn(sku=s.sku, qty=s.qty) for s in chosen],
        )
        created.append(
            purchasing_service.create_stock(
                session=session,
                key=f"{key}:{supplier}:{warehouse}",
                purchase_in=purchase_in,
                default_warehouse=default_warehouse,
                actor=actor,
                today=on,
            )
        )
    return created
