"""Purchasing flows: record the supplier's shipment, then tell the order's workflow; mail a
stock purchase order; receive goods against one, then wake the backordered orders."""

import logging

from sqlmodel import Session
from temporalio.service import RPCError

from conveyor.audit.service import Actor
from conveyor.core.errors import Invalid, NotFound
from conveyor.core.state import AppState, in_session
from conveyor.notification import service as notification_service
from conveyor.order import flows as order_flows
from conveyor.order.models import SalesOrder
from conveyor.purchasing import receiving
from conveyor.purchasing import service as purchasing_service
from conveyor.purchasing.models import (
    PurchaseOrder,
    PurchaseOrderKind,
    PurchaseOrderPublic,
    PurchaseOrderStatus,
    PurchaseReceiptIn,
    SupplierShipment,
)
from conveyor.shipping import service as shipping_service
from workflows.types import SalesOrderNames, SupplierShipped

log = logging.getLogger(__name__)


class PurchaseOrderNotFoundError(NotFound):
    """No purchase order has that number."""


def _found(session: Session, number: str, *, for_update: bool = False) -> PurchaseOrder:
    purchase = purchasing_service.get_by_number(
        session=session, number=number, for_update=for_update
    )
    if purchase is None:
        raise PurchaseOrderNotFoundError(f"purchase order {number} not found")
    return purchase


def _record_shipment(
    session: Session, state: AppState, purchase: PurchaseOrder, carrier: str | None
) -> None:
    """The supplier's shipment as one of the order's shipments (with its tracking), once."""
    order = session.get(SalesOrder, purchase.order_id) if purchase.order_id else None
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
        purchase = _found(session, number, for_update=True)
        if purchase.kind != PurchaseOrderKind.DROP_SHIP:
            raise Invalid(f"{number} is for stock: receive its goods instead")
        purchasing_service.mark_shipped(
            session=session,
            purchase=purchase,
            tracking=shipment.tracking,
            actor=actor,
            carrier=shipment.carrier,
            shipped_at=shipment.shipped_at,
        )
        _record_shipment(session, state, purchase, shipment.carrier)
        return purchase.order_number or "", purchasing_service.to_public(
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


async def send(state: AppState, *, number: str, actor: Actor) -> PurchaseOrderPublic:
    """Mail a stock purchase order to its supplier (the outbox sends it); sending again mails
    it again."""

    def record(session: Session) -> PurchaseOrderPublic:
        purchase = _found(session, number, for_update=True)
        if purchase.kind != PurchaseOrderKind.STOCK:
            raise Invalid(f"{number} is a drop-ship purchase order: it was mailed when ordered")
        purchasing_service.mark_sent(session=session, purchase=purchase, actor=actor)
        count = notification_service.count_with_key_prefix(
            session=session, prefix=f"po-stock:{number}:"
        )
        notification_service.queue_stock_purchase(
            session=session,
            key=f"po-stock:{number}:{count + 1}",
            purchase=purchase,
            app_url=state.settings.public_url,
        )
        return purchasing_service.to_public(session=session, purchase=purchase)

    return await in_session(state, record)


async def receive(
    state: AppState, *, number: str, key: str, receipt_in: PurchaseReceiptIn, actor: Actor
) -> PurchaseOrderPublic:
    """Receive goods against a stock purchase order (checked against the tolerance) through the
    stock receipt, then wake the backordered orders waiting for what came in."""

    def record(session: Session) -> tuple[PurchaseOrderPublic, list[str]]:
        purchase = _found(session, number, for_update=True)
        skus = receiving.receive(
            session=session,
            key=key,
            purchase=purchase,
            receipt_in=receipt_in,
            tolerance_percent=state.settings.receipt_tolerance_percent,
            default_warehouse=state.settings.default_warehouse,
            actor=actor,
        )
        waiting = order_flows.waiting_for(session, skus)
        return purchasing_service.to_public(session=session, purchase=purchase), waiting

    public, waiting = await in_session(state, record)
    await order_flows.wake_backordered(state, waiting)
    return public
