"""Purchase orders: create them for an order's drop-ship lines, confirm shipment, cancel."""

from collections import defaultdict
from datetime import datetime

from sqlmodel import Session, col, select

from conveyor.audit.service import Actor, record
from conveyor.core.models import utcnow
from conveyor.inventory import service as inventory_service
from conveyor.order.models import OrderLine, SalesOrder
from conveyor.purchasing.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderLinePublic,
    PurchaseOrderPublic,
    PurchaseOrderStatus,
)


class PurchaseOrderError(Exception):
    """The purchase order cannot change that way (e.g. it is cancelled)."""


def get_by_number(
    *, session: Session, number: str, for_update: bool = False
) -> PurchaseOrder | None:
    """The purchase order with that number, or None; `for_update`: locked until the commit
    (two confirmations at once: the second waits, then finds it shipped)."""
    query = select(PurchaseOrder).where(PurchaseOrder.number == number)
    return session.exec(query.with_for_update() if for_update else query).first()


def list_for_order(*, session: Session, order_id: int) -> list[PurchaseOrder]:
    """The order's purchase orders, oldest first."""
    return list(
        session.exec(
            select(PurchaseOrder)
            .where(PurchaseOrder.order_id == order_id)
            .order_by(col(PurchaseOrder.id))
        )
    )


def lines(*, session: Session, purchase_order_id: int) -> list[PurchaseOrderLine]:
    """What the purchase order asks the supplier to ship."""
    return list(
        session.exec(
            select(PurchaseOrderLine)
            .where(PurchaseOrderLine.purchase_order_id == purchase_order_id)
            .order_by(col(PurchaseOrderLine.id))
        )
    )


def drop_ship_lines(*, session: Session, order_id: int) -> list[OrderLine]:
    """The order's lines whose products the supplier ships directly."""
    order_lines = session.exec(select(OrderLine).where(OrderLine.order_id == order_id)).all()
    products = inventory_service.get_many(session=session, skus=[ln.sku for ln in order_lines])
    return [ln for ln in order_lines if ln.sku in products and products[ln.sku].drop_ship]


def create_for_order(*, session: Session, key: str, order: SalesOrder) -> list[PurchaseOrder]:
    """One purchase order per supplier for the order's drop-ship lines (once per `key`)."""
    existing = list_for_order(session=session, order_id=order.id or 0)
    if existing:
        return existing
    goods = drop_ship_lines(session=session, order_id=order.id or 0)
    products = inventory_service.get_many(session=session, skus=[ln.sku for ln in goods])
    by_supplier: dict[str, list[OrderLine]] = defaultdict(list)
    for line in goods:
        by_supplier[products[line.sku].supplier_email or ""].append(line)
    created = []
    for supplier, supplier_lines in sorted(by_supplier.items()):
        purchase = PurchaseOrder(
            key=f"{key}:{supplier}",
            order_id=order.id or 0,
            order_number=order.number or "",
            supplier_email=supplier,
        )
        session.add(purchase)
        session.flush()
        purchase.number = f"PO-{purchase.id:06d}"
        for line in supplier_lines:
            session.add(
                PurchaseOrderLine(
                    purchase_order_id=purchase.id or 0, sku=line.sku, name=line.name, qty=line.qty
                )
            )
        created.append(purchase)
    session.flush()
    return created


def mark_shipped(
    *,
    session: Session,
    purchase: PurchaseOrder,
    tracking: str | None,
    actor: Actor,
    carrier: str | None = None,
    shipped_at: datetime | None = None,
) -> PurchaseOrder:
    """The supplier shipped it (`shipped_at`, default now); confirming twice changes nothing."""
    if purchase.status == PurchaseOrderStatus.CANCELLED:
        raise PurchaseOrderError(f"{purchase.number} is cancelled")
    if purchase.status == PurchaseOrderStatus.OPEN:
        purchase.status = PurchaseOrderStatus.SHIPPED
        purchase.shipped_at = shipped_at or utcnow()
        purchase.tracking = tracking
        session.add(purchase)
        session.flush()
        record(
            session,
            actor=actor,
            action="purchase_order.shipped",
            entity="purchase_order",
            entity_id=purchase.number,
            before={"status": PurchaseOrderStatus.OPEN},
            after={
                "status": purchase.status,
                "tracking": tracking,
                "carrier": carrier,
                "shipped_at": purchase.shipped_at,
            },
        )
    return purchase


def cancel_open(*, session: Session, order_id: int) -> list[PurchaseOrder]:
    """Cancel the order's purchase orders the supplier has not shipped (compensation)."""
    cancelled = []
    for purchase in list_for_order(session=session, order_id=order_id):
        if purchase.status == PurchaseOrderStatus.OPEN:
            purchase.status = PurchaseOrderStatus.CANCELLED
            session.add(purchase)
            cancelled.append(purchase)
    session.flush()
    return cancelled


def open_count(*, session: Session, order_id: int) -> int:
    """How many of the order's purchase orders still wait for the supplier."""
    return sum(
        1
        for purchase in list_for_order(session=session, order_id=order_id)
        if purchase.status == PurchaseOrderStatus.OPEN
    )


def to_public(*, session: Session, purchase: PurchaseOrder) -> PurchaseOrderPublic:
    """The purchase order with its lines, as the API shows it."""
    return PurchaseOrderPublic(
        **purchase.model_dump(exclude={"id", "key", "order_id"}),
        lines=[
            PurchaseOrderLinePublic.model_validate(line)
            for line in lines(session=session, purchase_order_id=purchase.id or 0)
        ],
    )
