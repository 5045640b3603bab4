"""Purchasing activities: purchase orders for drop-ship lines, their state, compensation."""

from sqlalchemy.engine import Engine
from temporalio import activity

from activities.common import load_order
from conveyor.core.db import session_scope
from conveyor.purchasing import service as purchasing_service
from workflows.types import KeyedOrderInput, OrderRef, PurchaseOrdersResult


class PurchasingActivities:
    """Activities on purchase orders; built once per worker."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @activity.defn
    def create_purchase_orders(self, request: KeyedOrderInput) -> PurchaseOrdersResult:
        """One purchase order per supplier for the drop-ship lines (once per key)."""
        with session_scope(self.engine) as session:
            order = load_order(session, request.order_number)
            created = purchasing_service.create_for_order(
                session=session, key=request.key, order=order
            )
            return PurchaseOrdersResult(
                numbers=[p.number for p in created if p.number],
                suppliers=[p.supplier_email for p in created],
            )

    @activity.defn
    def count_open_purchase_orders(self, ref: OrderRef) -> int:
        """How many purchase orders still wait for their supplier's shipment."""
        with session_scope(self.engine) as session:
            order = load_order(session, ref.order_number)
            return purchasing_service.open_count(session=session, order_id=order.id or 0)

    @activity.defn
    def cancel_purchase_orders(self, ref: OrderRef) -> None:
        """Cancel what the suppliers have not shipped yet (compensation)."""
        with session_scope(self.engine) as session:
            order = load_order(session, ref.order_number)
            purchasing_service.cancel_open(session=session, order_id=order.id or 0)
