"""Shipments as mails and pages show them (no writes, no mail: compose imports this)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from conveyor.core.models import utcnow
from conveyor.shipping.models import Shipment, ShipmentLine, ShipmentStatus
from conveyor.task.models import Task

# A shipment in transit for longer than this shows as late (order page, monitor); so does one
# whose delivery SLA ran out (the order desk has the task to chase its carrier).
LATE_AFTER = timedelta(days=5)


@dataclass(frozen=True)
class ShipmentView:
    """A shipment with its lines, as the order pages and the monitor list it."""

    shipment: Shipment
    lines: list[ShipmentLine]
    late: bool

    @property
    def in_transit(self) -> bool:
        return self.shipment.status == ShipmentStatus.SHIPPED


def views(session: Session, shipments: list[Shipment]) -> list[ShipmentView]:
    """The shipments with their lines (one query) and whether each is late."""
    ids = [s.id for s in shipments if s.id is not None]
    rows = (
        session.exec(select(ShipmentLine).where(col(ShipmentLine.shipment_id).in_(ids))).all()
        if ids
        else []
    )
    now = utcnow()
    chased = _chased(session, shipments)
    return [
        ShipmentView(
            shipment=s,
            lines=[row for row in rows if row.shipment_id == s.id],
            late=s.status == ShipmentStatus.SHIPPED
            and (is_late(s, LATE_AFTER, now) or late_key(s.order_number, s.number) in chased),
        )
        for s in shipments
    ]


def late_key(order_number: str, number: int) -> str:
    """The key of the order desk's task to chase the carrier of a late shipment (the delivery
    SLA of the order's rule ran out), as the workflow makes it."""
    return f"{order_number}:delivery:late:{number}"


def _chased(session: Session, shipments: list[Shipment]) -> set[str]:
    keys = [late_key(s.order_number, s.number) for s in shipments]
    if not keys:
        return set()
    return set(session.exec(select(Task.key).where(col(Task.key).in_(keys))).all())


def for_order(session: Session, order_id: int) -> list[ShipmentView]:
    """The order's shipments by number."""
    found = session.exec(
        select(Shipment).where(Shipment.order_id == order_id).order_by(col(Shipment.number))
    ).all()
    return views(session, list(found))


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
