"""An order's service lines (labour, fees): which they are, and their delivery confirmed.

Service lines need no stock, picking or packing. The order waits at the `service` step until
the service is confirmed delivered, once: an entry in the order's trail keyed
`<number>:service_delivered` (by staff, audited, or by the step's task), then invoices them.
The caller commits.
"""

from dataclasses import dataclass

from sqlmodel import Session, select

from conveyor.audit.service import Actor, record
from conveyor.core.errors import Conflict
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import is_service
from conveyor.order import service as order_service
from conveyor.order.enums import OrderStatus, Step
from conveyor.order.models import OrderEvent, OrderLine, SalesOrder

DELIVERED = "service_delivered"


@dataclass(frozen=True)
class Composition:
    """Whether some of an order's lines are services, and whether all of them are."""

    services: bool
    service_only: bool


def service_lines(*, session: Session, order_id: int) -> list[OrderLine]:
    """The order's lines whose product is a service."""
    lines = order_service.lines(session=session, order_id=order_id)
    products = inventory_service.get_many(session=session, skus=[ln.sku for ln in lines])
    return [ln for ln in lines if ln.sku in products and is_service(products[ln.sku])]


def composition(*, session: Session, order_id: int) -> Composition:
    """Services on the order, and services only (no goods at all)."""
    lines = order_service.lines(session=session, order_id=order_id)
    services = service_lines(session=session, order_id=order_id)
    return Composition(
        services=bool(services), service_only=bool(lines) and len(services) == len(lines)
    )


def delivered(*, session: Session, order: SalesOrder) -> OrderEvent | None:
    """The trail entry that confirmed the order's service delivered; None while it waits."""
    return session.exec(
        select(OrderEvent).where(OrderEvent.key == f"{order.number}:{DELIVERED}")
    ).first()


def confirm(*, session: Session, order: SalesOrder, actor: Actor, note: str = "") -> OrderEvent:
    """Confirm the order's service delivered (once: a repeat returns the first confirmation),
    audited; Conflict for an order without service lines, a quote, or one that is finished.

    It may come before the order reaches its service step: the step then goes straight on."""
    existing = delivered(session=session, order=order)
    if existing is not None:
        return existing
    if order.status in (OrderStatus.CANCELLED, OrderStatus.COMPLETED):
        raise Conflict(f"order {order.number} is already {order.status}")
    if order.status == OrderStatus.QUOTE:
        raise Conflict(f"order {order.number} is still a quote")
    if not service_lines(session=session, order_id=order.id or 0):
        raise Conflict(f"order {order.number} has no service lines")
    by = f" ({note})" if note else ""
    event = order_service.add_event(
        session=session,
        key=f"{order.number}:{DELIVERED}",
        order=order,
        kind=DELIVERED,
        message=f"service delivered, confirmed by {actor.name}{by}"[:2000],
        step=Step.SERVICE,
        actor=actor.name,
    )
    record(
        session,
        actor=actor,
        action="order.service_delivered",
        entity="order",
        entity_id=order.number,
        before={"service_delivered": False},
        after={"service_delivered": True, "note": note or None},
    )
    return event
