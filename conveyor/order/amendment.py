"""Amend an order's lines once per key, with the lines before and after in its trail."""

from sqlmodel import Session, select

from conveyor.audit.service import Actor, record
from conveyor.order import service as order_service
from conveyor.order.models import OrderEvent, SalesOrder


def amend(
    *, session: Session, key: str, order: SalesOrder, lines: list[tuple[str, int]], actor: str
) -> str:
    """Replace the order's lines (sku, qty) once per `key`; the trail's summary of the change.

    A repeat with the same key changes nothing and returns the first summary. Raises
    `order_service.OrderError` for lines that break a rule (unknown SKU, another currency).
    """
    done = session.exec(select(OrderEvent).where(OrderEvent.key == key)).first()
    if done is not None:
        return done.message
    before, after = order_service.replace_lines(session=session, order=order, lines=lines)
    summary = f"lines amended: {before} -> {after}"
    # Run by the order's workflow for the person named in the update.
    record(
        session,
        actor=Actor.on_behalf(actor),
        action="order.amend",
        entity="order",
        entity_id=order.number,
        before={"lines": before},
        after={"lines": after},
    )
    order_service.add_event(
        session=session, key=key, order=order, kind="amended", message=summary, actor=actor
    )
    return summary
