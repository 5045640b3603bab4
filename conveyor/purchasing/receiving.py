"""Goods received against stock purchase orders: partial, over or under within the tolerance,
into the purchase order's warehouse through the stock receipt (ledger, moving-average cost)."""

from decimal import Decimal

from sqlmodel import Session, col, select

from conveyor.audit.service import Actor, record
from conveyor.core.errors import Conflict, Invalid
from conveyor.inventory import service as inventory_service
from conveyor.purchasing.models import (
    PurchaseOrder,
    PurchaseOrderKind,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    PurchaseReceipt,
    PurchaseReceiptIn,
)


class OverReceiptError(Conflict):
    """More would be received on a line than its quantity plus the tolerance."""


def most_receivable(qty: int, tolerance_percent: Decimal) -> int:
    """The most that may be received of a line of `qty` (its quantity plus the tolerance)."""
    return int(Decimal(qty) * (100 + tolerance_percent) / 100)


def fully_received(line: PurchaseOrderLine, tolerance_percent: Decimal) -> bool:
    """True when the line got its quantity, or fell short by no more than the tolerance."""
    return Decimal(line.received_qty) * 100 >= Decimal(line.qty) * (100 - tolerance_percent)


def receipts(*, session: Session, purchase_order_id: int) -> list[PurchaseReceipt]:
    """What was received against the purchase order, oldest first."""
    return list(
        session.exec(
            select(PurchaseReceipt)
            .where(PurchaseReceipt.purchase_order_id == purchase_order_id)
            .order_by(col(PurchaseReceipt.id))
        )
    )


def receive(
    *,
    session: Session,
    key: str,
    purchase: PurchaseOrder,
    receipt_in: PurchaseReceiptIn,
    tolerance_percent: Decimal,
    default_warehouse: str,
    actor: Actor,
) -> list[str]:
    """Receive goods against a stock purchase order, once per `key`; the SKUs received.

    Each line's quantity goes through the stock receipt into the purchase order's warehouse at
    the line's net unit price (moving the average cost). A line may get up to its quantity plus
    `tolerance_percent`; more is refused (OverReceiptError) and nothing of the receipt is kept.
    The purchase order is received once every line is within the tolerance of its quantity.
    """
    if purchase.kind != PurchaseOrderKind.STOCK:
        raise Invalid(f"{purchase.number} is a drop-ship purchase order: nothing comes to stock")
    if session.exec(
        select(PurchaseReceipt.id).where(
            col(PurchaseReceipt.key).startswith(f"{key}:", autoescape=True)
        )
    ).first():
        return []  # a retried receipt
    if purchase.status != PurchaseOrderStatus.OPEN:
        raise Conflict(f"{purchase.number} is {purchase.status}: nothing more can be received")
    by_sku = {
        line.sku: line
        for line in session.exec(
            select(PurchaseOrderLine)
            .where(PurchaseOrderLine.purchase_order_id == purchase.id)
            .with_for_update()
        )
    }
    asked: dict[str, int] = {}
    for line_in in receipt_in.lines:
        if line_in.sku not in by_sku:
            raise Invalid(f"{purchase.number} has no line for {line_in.sku}")
        asked[line_in.sku] = asked.get(line_in.sku, 0) + line_in.qty
    for sku, qty in asked.items():
        line = by_sku[sku]
        limit = most_receivable(line.qty, tolerance_percent)
        if line.received_qty + qty > limit:
            raise OverReceiptError(
                f"{purchase.number}: {line.received_qty + qty} x {sku} would be received, "
                f"{line.qty} ordered; at most {limit} may be (tolerance {tolerance_percent}%). "
                "Receive the rest on another purchase order or adjust the stock"
            )
    warehouse = purchase.warehouse or default_warehouse
    try:
        inventory_service.usable_warehouse(session=session, code=warehouse)
    except inventory_service.UnknownWarehouseError as exc:
        raise Conflict(f"{purchase.number} delivers to {warehouse}: {exc}") from exc
    for sku, qty in sorted(asked.items()):
        line = by_sku[sku]
        inventory_service.receive(
            session=session,
            key=f"{key}:{sku}:stock",
            sku=sku,
            qty=qty,
            warehouse=warehouse,
            note=f"{purchase.number} {receipt_in.reference or ''}".strip()[:200],
            unit_cost=line.unit_price,
            default_warehouse=default_warehouse,
            actor=actor,
        )
        line.received_qty += qty
        session.add(line)
        session.add(
            PurchaseReceipt(
                key=f"{key}:{sku}",
                purchase_order_id=purchase.id or 0,
                line_id=line.id or 0,
                sku=sku,
                qty=qty,
                warehouse=warehouse,
                unit_cost=line.unit_price or Decimal("0"),
                reference=receipt_in.reference,
            )
        )
    before = purchase.status
    if all(fully_received(line, tolerance_percent) for line in by_sku.values()):
        purchase.status = PurchaseOrderStatus.RECEIVED
        session.add(purchase)
    session.flush()
    record(
        session,
        actor=actor,
        action="purchase_order.receive",
        entity="purchase_order",
        entity_id=purchase.number,
        before={"status": before},
        after={
            "status": purchase.status,
            "warehouse": warehouse,
            "received": asked,
            "reference": receipt_in.reference,
            "key": key,
        },
    )
    return sorted(asked)
