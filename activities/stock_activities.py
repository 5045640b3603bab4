"""Stock activities: check, commit, release, pick list, pack."""

from sqlalchemy.engine import Engine
from temporalio import activity

from activities.common import load_order, number_of
from conveyor.core.db import session_scope
from conveyor.core.models import row_id
from conveyor.core.settings import Settings
from conveyor.inventory import fulfilment
from conveyor.inventory import service as inventory_service
from conveyor.inventory.service import StockNeed
from workflows.types import (
    AllocateShipmentResult,
    AllocateStockResult,
    KeyedOrderInput,
    OrderRef,
    PickListResult,
    ShipmentInput,
    StockCheckResult,
)


def _shipment_key(order_number: str, shipment: int) -> str:
    return f"{order_number}:commit:s{shipment}"


def _describe(shortages: list[StockNeed]) -> list[str]:
    return [f"{s.sku} short by {s.qty}" for s in shortages]


class StockActivities:
    """Activities on stock balances and pick lists; built once per worker."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.default_warehouse = settings.default_warehouse
        # Set: picking also moves the goods to this staging location (CONVEYOR_STAGING_LOCATION).
        self.staging_location = settings.staging_location

    @activity.defn
    def check_stock(self, ref: OrderRef) -> StockCheckResult:
        """Is there enough available stock for what is still to allocate, or for some of it?"""
        with session_scope(self.engine) as session:
            order = load_order(session, ref.order_number)
            stock = fulfilment.check(session=session, order=order)
            return StockCheckResult(
                available=stock.available,
                shortages=_describe(stock.shortages),
                some_available=stock.some_available,
            )

    @activity.defn
    def allocate_stock(self, request: KeyedOrderInput) -> AllocateStockResult:
        """Commit stock for every line atomically, or nothing when something is short."""
        with session_scope(self.engine) as session:
            order = load_order(session, request.order_number)
            needs = fulfilment.needs(session=session, order_id=row_id(order))
            if inventory_service.commit(
                session=session,
                key=request.key,
                order_number=number_of(order),
                needs=needs,
                warehouse=order.warehouse,
                default_warehouse=self.default_warehouse,
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
                order_number=number_of(order),
                needs=fulfilment.needs(session=session, order_id=row_id(order)),
                default_warehouse=self.default_warehouse,
            )

    @activity.defn
    def create_pick_list(self, ref: OrderRef) -> PickListResult:
        """Make the pick list (one line per SKU with its location), once."""
        with session_scope(self.engine) as session:
            order = load_order(session, ref.order_number)
            lines = fulfilment.write_pick_list(
                session=session,
                order=order,
                shipment=1,
                goods=lambda: fulfilment.order_goods(
                    session=session,
                    order_number=number_of(order),
                    order_id=row_id(order),
                    default_warehouse=self.default_warehouse,
                ),
                staging=self.staging_location,
                default_warehouse=self.default_warehouse,
            )
            return PickListResult(lines=len(lines))

    @activity.defn
    def pack_order(self, request: KeyedOrderInput) -> None:
        """Deduct the packed goods from on-hand and committed (once per key)."""
        with session_scope(self.engine) as session:
            order = load_order(session, request.order_number)
            inventory_service.pack(
                session=session,
                key=request.key,
                order_number=number_of(order),
                needs=fulfilment.needs(session=session, order_id=row_id(order)),
                default_warehouse=self.default_warehouse,
            )

    @activity.defn
    def allocate_shipment(self, request: ShipmentInput) -> AllocateShipmentResult:
        """Commit what is available now of what is still to allocate: one shipment's goods."""
        with session_scope(self.engine) as session:
            order = load_order(session, request.order_number)
            committed = inventory_service.commit_available(
                session=session,
                key=_shipment_key(number_of(order), request.shipment),
                order_number=number_of(order),
                needs=fulfilment.remaining(
                    session=session, order_number=number_of(order), order_id=row_id(order)
                ),
                warehouse=order.warehouse,
                default_warehouse=self.default_warehouse,
            )
            left = fulfilment.remaining(
                session=session, order_number=number_of(order), order_id=row_id(order)
            )
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
            key = _shipment_key(number_of(order), request.shipment)
            lines = fulfilment.write_pick_list(
                session=session,
                order=order,
                shipment=request.shipment,
                goods=lambda: inventory_service.commitments_under(session=session, key=key),
                staging=self.staging_location,
                default_warehouse=self.default_warehouse,
            )
            return PickListResult(lines=len(lines))

    @activity.defn
    def pack_shipment(self, request: ShipmentInput) -> None:
        """Deduct one shipment's goods from on-hand and committed (once per shipment)."""
        with session_scope(self.engine) as session:
            order = load_order(session, request.order_number)
            inventory_service.pack(
                session=session,
                key=f"{order.number}:pack:s{request.shipment}",
                order_number=number_of(order),
                needs=inventory_service.commitments_under(
                    session=session, key=_shipment_key(number_of(order), request.shipment)
                ),
                default_warehouse=self.default_warehouse,
            )
