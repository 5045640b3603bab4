"""Stock activities: check, commit, release, pick list, pack."""

from collections.abc import Callable

from sqlalchemy.engine import Engine
from sqlmodel import select
from temporalio import activity

from activities.common import load_order
from conveyor.core.db import session_scope
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import PickListLine
from conveyor.inventory.service import StockNeed
from conveyor.order import service as order_service
from conveyor.order.models import SalesOrder
from workflows.types import (
    AllocateShipmentResult,
    AllocateStockResult,
    KeyedOrderInput,
    OrderRef,
    PickListResult,
    ShipmentInput,
    StockCheckResult,
)


def _needs(session, order_id: int) -> list[StockNeed]:  # noqa: ANN001
    """The stock the order needs per SKU; drop-ship lines need none (the supplier ships)."""
    order_lines = order_service.lines(session=session, order_id=order_id)
    products = inventory_service.get_many(session=session, skus=[ln.sku for ln in order_lines])
    totals: dict[str, int] = {}
    for line in order_lines:
        if line.sku in products and products[line.sku].drop_ship:
            continue
        totals[line.sku] = totals.get(line.sku, 0) + line.qty
    return [StockNeed(sku=sku, qty=qty) for sku, qty in totals.items()]


def _remaining(session, order_number: str, order_id: int) -> list[StockNeed]:  # noqa: ANN001
    """What is still to allocate: ordered minus what the ledger committed (and kept)."""
    remaining = []
    for need in _needs(session, order_id):
        allocated = inventory_service.allocated(
            session=session, order_number=order_number, sku=need.sku
        )
        if need.qty > allocated:
            remaining.append(StockNeed(sku=need.sku, qty=need.qty - allocated))
    return remaining


def _shipment_key(order_number: str, shipment: int) -> str:
    return f"{order_number}:commit:s{shipment}"


def _order_goods(session, order_number: str, order_id: int) -> list[StockNeed]:  # noqa: ANN001
    """The whole order's goods per SKU and warehouse: where the ledger says the order holds them."""
    default = inventory_service.default_warehouse(session=session)
    goods = []
    for need in _needs(session, order_id):
        holds = inventory_service.held_by_warehouse(
            session=session, order_number=order_number, sku=need.sku
        )
        left = need.qty
        for warehouse in sorted(holds, key=lambda code: (code != default, code)):
            qty = min(left, holds[warehouse])
            if qty > 0:
                goods.append(StockNeed(sku=need.sku, qty=qty, warehouse=warehouse))
                left -= qty
        if left > 0:  # not (or no longer) held: picked from the default warehouse
            goods.append(StockNeed(sku=need.sku, qty=left, warehouse=default))
    return goods


def _pick_list(
    session,  # noqa: ANN001
    order: SalesOrder,
    shipment: int,
    goods: Callable[[], list[StockNeed]],
    staging: str | None,
) -> PickListResult:
    """Write the pick list of one shipment (by warehouse, then bin), once; stage it if asked."""
    existing = session.exec(
        select(PickListLine)
        .where(PickListLine.order_id == order.id)
        .where(PickListLine.shipment == shipment)
    ).all()
    if existing:
        return PickListResult(lines=len(existing))
    needs = goods()
    skus = [n.sku for n in needs]
    products = inventory_service.get_many(session=session, skus=skus)
    bins = inventory_service.bin_locations(session=session, skus=skus)
    default = inventory_service.default_warehouse(session=session)
    lines = []
    for need in needs:
        warehouse = need.warehouse or default
        lines.append(
            PickListLine(
                order_id=order.id,
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
    return PickListResult(lines=len(lines))


def _stage(session, order: SalesOrder, shipment: int, lines: list[PickListLine], to: str) -> None:  # noqa: ANN001
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


def _describe(shortages: list[StockNeed]) -> list[str]:
    return [f"{s.sku} short by {s.qty}" for s in shortages]


class StockActivities:
    """Activities on stock balances and pick lists; built once per worker."""

    def __init__(self, engine: Engine, staging_location: str | None = None) -> None:
        self.engine = engine
        # Set: picking also moves the goods to this staging location (CONVEYOR_STAGING_LOCATION).
        self.staging_location = staging_location

    @activity.defn
    def check_stock(self, ref: OrderRef) -> StockCheckResult:
        """Is there enough available stock for what is still to allocate, or for some of it?"""
        with session_scope(self.engine) as session:
            order = load_order(session, ref.order_number)
            needs = _remaining(session, order.number, order.id)
            missing = inventory_service.shortages(session=session, needs=needs)
            short_by = {short.sku: short.qty for short in missing}
            some = any(short_by.get(need.sku, 0) < need.qty for need in needs)
            return StockCheckResult(
                available=not missing, shortages=_describe(missing), some_available=some
            )

    @activity.defn
    def allocate_stock(self, request: KeyedOrderInput) -> AllocateStockResult:
        """Commit stock for every line atomically, or nothing when something is short."""
        with session_scope(self.engine) as session:
            order = load_order(session, request.order_number)
            needs = _needs(session, order.id)
            if inventory_service.commit(
                session=session,
                key=request.key,
                order_number=order.number,
                needs=needs,
                warehouse=order.warehouse,
            ):
                return AllocateStockResult(committed=True)
            missing = inventory_service.shortages(session=session, needs=needs)
            return AllocateStockResult(committed=False, shortages=_describe(missing))

    @activity.defn
    def release_stock(self, request: KeyedOrderInput) -> None:
        """Give the order's committed stock back (compensation)."""
        with session_scope(self.engine) as session:
            order = load_order(session, request.order_number)
            inventory_service.release(
                session=session,
                key=request.key,
                order_number=order.number,
                needs=_needs(session, order.id),
            )

    @activity.defn
    def create_pick_list(self, ref: OrderRef) -> PickListResult:
        """Make the pick list (one line per SKU with its location), once."""
        with session_scope(self.engine) as session:
            order = load_order(session, ref.order_number)
            return _pick_list(
                session,
                order,
                1,
                lambda: _order_goods(session, order.number, order.id),
                self.staging_location,
            )

    @activity.defn
    def pack_order(self, request: KeyedOrderInput) -> None:
        """Deduct the packed goods from on-hand and committed (once per key)."""
        with session_scope(self.engine) as session:
            order = load_order(session, request.order_number)
            inventory_service.pack(
                session=session,
                key=request.key,
                order_number=order.number,
                needs=_needs(session, order.id),
            )

    @activity.defn
    def allocate_shipment(self, request: ShipmentInput) -> AllocateShipmentResult:
        """Commit what is available now of what is still to allocate: one shipment's goods."""
        with session_scope(self.engine) as session:
            order = load_order(session, request.order_number)
            committed = inventory_service.commit_available(
                session=session,
                key=_shipment_key(order.number, request.shipment),
                order_number=order.number,
                needs=_remaining(session, order.number, order.id),
                warehouse=order.warehouse,
            )
            left = _remaining(session, order.number, order.id)
            missing = inventory_service.shortages(session=session, needs=left)
            return AllocateShipmentResult(
                lines=len(committed),
                remaining=sum(n.qty for n in left),
                shortages=_describe(missing),
            )

    @activity.defn
    def create_shipment_pick_list(self, request: ShipmentInput) -> PickListResult:
        """The pick list of one shipment (by location), once."""
        with session_scope(self.engine) as session:
            order = load_order(session, request.order_number)
            key = _shipment_key(order.number, request.shipment)
            return _pick_list(
                session,
                order,
                request.shipment,
                lambda: inventory_service.commitments_under(session=session, key=key),
                self.staging_location,
            )

    @activity.defn
    def pack_shipment(self, request: ShipmentInput) -> None:
        """Deduct one shipment's goods from on-hand and committed (once per shipment)."""
        with session_scope(self.engine) as session:
            order = load_order(session, request.order_number)
            inventory_service.pack(
                session=session,
                key=f"{order.number}:pack:s{request.shipment}",
                order_number=order.number,
                needs=inventory_service.commitments_under(
                    session=session, key=_shipment_key(order.number, request.shipment)
                ),
            )
