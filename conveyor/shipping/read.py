"""Shipments as mails and pages show them (no writes, no mail: compose imports this)."""

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from conveyor.core.models import utcnow
from conveyor.shipping.models import Shipment, ShipmentLine, ShipmentStatus


def with_lines(
    session: Session, order_id: int, number: str | None
) -> tuple[Shipment | None, list[ShipmentLine]]:
    """The order's shipment `number` (as a mail's `extra` names it) and its lines."""
    if not number or not number.isdigit():
        return None, []
    shipment = session.exec(
        select(Shipment).where(Shipment.order_id == order_id).where(Shipment.number == int(number))
    ).first()
    if shipment is None:
        return None, []
    found = session.exec(
        select(ShipmentLine)
        .where(ShipmentLine.shipment_id == shipment.id)
        .order_by(col(ShipmentLine.id))
    ).all()
    return shipment, list(found)


def is_late(shipment: Shipment, late_after: timedelta, now: datetime | None = None) -> bool:
    """In transit for longer than `late_after` since it shipped."""
    return (
        shipment.status == ShipmentStatus.SHIPPED
        and shipment.shipped_at is not None
        and (now or utcnow()) - shipment.shipped_at > late_after
    )


def in_transit(session: Session, *, limit: int = 200) -> list[Shipment]:
    """Shipments on their way (and failed ones, to follow up), oldest first."""
    return list(
        session.exec(
            select(Shipment)
            .where(col(Shipment.status).in_([ShipmentStatus.SHIPPED, ShipmentStatus.FAILED]))
            .order_by(col(Shipment.shipped_at), col(Shipment.id))
            .limit(limit)
        )
    )
