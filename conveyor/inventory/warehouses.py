"""Warehouses kept up to date: edited in place, retired once nothing is kept or ordered there."""

from sqlmodel import Session, col, select

from conveyor.audit.service import Actor, changed, record, snapshot
from conveyor.core.errors import Conflict
from conveyor.core.models import utcnow
from conveyor.core.patch import merged
from conveyor.inventory.models import StockBalance, Warehouse, WarehouseCreate, WarehouseUpdate
from conveyor.order.enums import OrderStatus
from conveyor.order.models import SalesOrder

# Orders in these states may still take stock from the warehouse they name.
OPEN_STATUSES = (OrderStatus.QUOTE, OrderStatus.OPEN, OrderStatus.BACKORDERED)
SHOWN = 5  # how many SKUs or orders a refusal names


def list_all(*, session: Session, retired: bool | None = None) -> list[Warehouse]:
    """Warehouses by code (`retired`: only those, or only the others; None: all)."""
    query = select(Warehouse)
    if retired is not None:
        retired_at = col(Warehouse.retired_at)
        query = query.where(retired_at.is_not(None) if retired else retired_at.is_(None))
    return list(session.exec(query.order_by(col(Warehouse.code))))


def update(
    *, session: Session, warehouse: Warehouse, changes: WarehouseUpdate, actor: Actor
) -> Warehouse:
    """Change a warehouse's name, address or staging location, checked as a new one would be."""
    if warehouse.retired_at is not None:
        raise Conflict(f"warehouse {warehouse.code} is retired")
    before = snapshot(warehouse)
    result = merged(WarehouseCreate, before, changes.model_dump(exclude_unset=True))
    warehouse.sqlmodel_update(result.model_dump(exclude={"code"}))
    session.add(warehouse)
    session.flush()
    old, new = changed(before, snapshot(warehouse))
    record(
        session,
        actor=actor,
        action="warehouse.update",
        entity="warehouse",
        entity_id=warehouse.code,
        before=old,
        after=new,
    )
    return warehouse


def _listed(items: list[str]) -> str:
    more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return ", ".join(items[:SHOWN]) + more


def retire_refusal(*, session: Session, warehouse: Warehouse, default_warehouse: str) -> str | None:
    """Why the warehouse cannot be retired now (None: it can): it is the default warehouse,
    it keeps or has committed stock, or open orders ship from it."""
    if warehouse.code == default_warehouse:
        return f"{warehouse.code} is the default warehouse (CONVEYOR_DEFAULT_WAREHOUSE)"
    stock = session.exec(
        select(StockBalance)
        .where(StockBalance.warehouse == warehouse.code)
        .where((col(StockBalance.on_hand) != 0) | (col(StockBalance.committed) != 0))
        .order_by(col(StockBalance.sku))
    ).all()
    if stock:
        held = [f"{b.sku} ({b.on_hand} on hand, {b.committed} committed)" for b in stock]
        return f"{warehouse.code} still holds stock: {_listed(held)}; move or adjust it first"
    orders = session.exec(
        select(SalesOrder.number)
        .where(SalesOrder.warehouse == warehouse.code)
        .where(col(SalesOrder.status).in_([s.value for s in OPEN_STATUSES]))
        .order_by(col(SalesOrder.id))
    ).all()
    if orders:
        numbers = [n or "?" for n in orders]
        return f"open orders ship from {warehouse.code}: {_listed(numbers)}"
    return None


def retire(
    *, session: Session, warehouse: Warehouse, default_warehouse: str, actor: Actor
) -> Warehouse:
    """Retire a warehouse (kept for the ledger and the orders that name it); Conflict saying
    why when it is already retired or cannot be yet."""
    if warehouse.retired_at is not None:
        raise Conflict(f"warehouse {warehouse.code} was already retired")
    why = retire_refusal(session=session, warehouse=warehouse, default_warehouse=default_warehouse)
    if why is not None:
        raise Conflict(f"warehouse {warehouse.code} cannot be retired: {why}")
    warehouse.retired_at = utcnow()
    session.add(warehouse)
    session.flush()
    record(
        session,
        actor=actor,
        action="warehouse.retire",
        entity="warehouse",
        entity_id=warehouse.code,
        after={"retired_at": warehouse.retired_at},
    )
    return warehouse
