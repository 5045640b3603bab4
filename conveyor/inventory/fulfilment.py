"""What an order takes from stock: its needs, what is left to allocate, and its pick lists."""

from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session, select

from conveyor.core.models import row_id
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import PickListLine, is_service
from conveyor.inventory.service import StockNeed
from conveyor.order import service as order_service
from conveyor.order.models import SalesOrder


@dataclass(frozen=True)
class StockCheck:
    """What is short of what is still to allocate, and whether some of it is there now."""

    shortages: list[StockNeed]
    some_available: bool

    @property
    def available(self) -> bool:
        """Everything still to allocate is available."""
        return not self.shortages


def needs(*, session: Session, order_id: int) -> list[StockNeed]:
    """The stock the order needs per SKU; drop-ship lines (their supplier ships them, as decided
    when the order was placed) and service lines (nothing to ship) need none."""
    order_lines = order_service.lines(session=session, order_id=order_id)
    products = inventory_service.get_many(session=session, skus=[ln.sku for ln in order_lines])
    totals: dict[str, int] = {}
    for line in order_lines:
        if line.drop_ship or (line.sku in products and is_service(products[line.sku])):
            continue
        totals[line.sku] = totals.get(line.sku, 0) + line.qty
    return [StockNeed(sku=sku, qty=qty) for sku, qty in totals.items()]


def remaining(*, session: Session, order_number: str, order_id: int) -> list[StockNeed]:
    """What is still to allocate: ordered minus what the ledger committed (and kept)."""
    left = []
    for need in needs(session=session, order_id=order_id):
        allocated = inventory_service.allocated(
            session=session, order_number=order_number, sku=need.sku
        )
        if need.qty > allocated:
            left.append(StockNeed(sku=need.sku, qty=need.qty - allocated))
    return left


def check(*, session: Session, order: SalesOrder) -> StockCheck:
    """Is there enough available stock for what is still to allocate, or for some of it?"""
    wanted = remaining(session=session, order_number=order.number or "", order_id=order.id or 0)
    missing = inventory_service.shortages(session=session, needs=wanted)
    short_by = {short.sku: short.qty for short in missing}
    some = any(short_by.get(need.sku, 0) < need.qty for need in wanted)
    return StockCheck(shortages=missing, some_available=some)


def order_goods(
    *, session: Session, order_number: str, order_id: int, default_warehouse: str
) -> list[StockNeed]:
    """The whole order's goods per SKU and warehouse: where the ledger says the order holds them.

    What it does not (or no longer) hold is picked from the default warehouse.
    """
    default = inventory_service.ensure_warehouse(session=session, code=default_warehouse)
    goods = []
    for need in needs(session=session, order_id=order_id):
        holds = inventory_service.held_by_warehouse(
            session=session, order_number=order_number, sku=need.sku
        )
        left = need.qty
        for warehouse in sorted(holds, key=lambda code: (code != default, code)):
            qty = min(left, holds[warehouse])
            if qty > 0:
                goods.append(StockNeed(sku=need.sku, qty=qty, warehouse=warehouse))
                left -= qty
        if left > 0:
            goods.append(StockNeed(sku=need.sku, qty=left, warehouse=default))
    return goods


def write_pick_list(
    *,
    session: Session,
    order: SalesOrder,
    shipment: int,
    goods: Callable[[], list[StockNeed]],
    staging: str | None,
    default_warehouse: str,
) -> list[PickListLine]:
    """Write the pick list of one shipment (by warehouse, then bin), once; stage it if asked.

    `goods` is called only when the list is written, so a retry reads nothing it does not need.
    A second call returns the lines the first one wrote.
    """
    existing = list(
        session.exec(
            select(PickListLine)
            .where(PickListLine.order_id == order.id)
            .where(PickListLine.shipment == shipment)
        ).all()
    )
    if existing:
        return existing
    wanted = goods()
    skus = [n.sku for n in wanted]
    products = inventory_service.get_many(session=session, skus=skus)
    bins = inventory_service.bin_locations(session=session, skus=skus)
    default = inventory_service.ensure_warehouse(session=session, code=default_warehouse)
    lines = []
    for need in wanted:
        warehouse = need.warehouse or default
        lines.append(
            PickListLine(
                order_id=row_id(order),
                shipment=shipment,
                sku=need.sku,
                qty=need.qty,
                warehouse=warehouse,
                location=bins.get((need.sku, warehouse)) or products[need.sku].location,
                staging_location=staging,
            )
        )
    lines.sort(key=lambda ln: (ln.warehouse, ln.location, ln.sku))
    session.add_all(lines)
    if staging and lines:
        _stage(session, order, shipment, lines, staging)
    return lines


def _stage(
    session: Session, order: SalesOrder, shipment: int, lines: list[PickListLine], to: str
) -> None:
    """Move the picked goods from their bins to the staging location: ledger and trail."""
    for line in lines:
        inventory_service.stage(
            session=session,
            key=f"{order.number}:stage:s{shipment}:{line.sku}@{line.warehouse}",
            order_number=order.number or "",
            sku=line.sku,
            qty=line.qty,
            warehouse=line.warehouse,
            location=to,
        )
    moved = ", ".join(f"{ln.qty} x {ln.sku} from {ln.warehouse} {ln.location}" for ln in lines)
    order_service.add_event(
        session=session,
        key=f"{order.number}:staged:s{shipment}",
        order=order,
        kind="staged",
        step="picking",
        message=f"Staged at {to}: {moved}"[:2000],
    )
