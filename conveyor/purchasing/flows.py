"""Purchasing flows: record the supplier's shipment, then tell the order's workflow."""

import logging

from sqlmodel import Session
from temporalio.service import RPCError

from conveyor.audit.service import Actor
from conveyor.core.errors import NotFound
from conveyor.core.state import AppState, in_session
from conveyor.order import flows as order_flows
from conveyor.order.models import SalesOrder
from conveyor.purchasing import service as purchasing_service
from conveyor.purchasing.models import (
    PurchaseOrder,
    PurchaseOrderPublic,
    PurchaseOrderStatus,
    SupplierShipment,
)
from conveyor.shipping import service as shipping_service
from workflows.types import SalesOrderNames, SupplierShipped

log = logging.getLogger(__name__)


class PurchaseOrderNotFoundError(NotFound):
    """No purchase order has that number."""


def _record_shipment(
    session: Session, state: AppState, purchase: PurchaseOrder, carrier: str | None
) -> None:
    """The supplier's shipment as one of the order's shipments (with its tracking), once."""
    order = session.get(SalesOrder, purchase.order_id)
    if order is None or purchase.status != PurchaseOrderStatus.SHIPPED:
        return
    shipping_service.record_shipped(
        session=session,
        key=f"{order.number}:po:{purchase.number}",
        order=order,
        number=len(shipping_service.for_order(session=session, order_id=order.id or 0)) + 1,
        goods=[
            (line.sku, line.name, line.qty)
            for line in purchasing_service.lines(
                session=session, purchase_order_id=purchase.id or 0
            )
        ],
        warehouse=None,
        templates=state.settings.carrier_tracking_urls,
        app_url=state.settings.public_url,
        purchase_order_number=purchase.number,
        tracking=purchase.tracking,
        carrier=carrier,
        shipped_at=purchase.shipped_at,
    )


async def confirm_shipped(
    state: AppState, *, number: str, shipment: SupplierShipment, actor: Actor
) -> PurchaseOrderPublic:
    """Mark the purchase order shipped (idempotent), then signal the order's workflow. Staff
    (the API) and the supplier (its signed link) confirm through here."""

    def record(session: Session) -> tuple[str, PurchaseOrderPublic]:
        purchase = purchasing_service.get_by_number(session=session, number=number, for_update=True)
        if purchase is None:
            raise PurchaseOrderNotFoundError(f"purchase order {number} not found")
        purchasing_service.mark_shipped(
            session=session,
            purchase=purchase,
            tracking=shipment.tracking,
            actor=actor,
            carrier=shipment.carrier,
            shipped_at=shipment.shipped_at,
        )
        _record_shipment(session, state, purchase, shipment.carrier)
        return purchase.order_number, purchasing_service.to_public(
            session=session, purchase=purchase
        )

    order_number, public = await in_session(state, record)
    try:
        handle = await order_flows.workflow_handle(state, order_number)
        await handle.signal(SalesOrderNames.SUPPLIER_SHIPPED, SupplierShipped(number))
    except (RPCError, RuntimeError):
        # Recorded; the workflow rechecks open purchase orders on a timer.
        log.warning("could not tell %s that %s shipped", order_number, number)
    return public
