"""The order's processing trail: entries written once per key, with the status each moves to.

The order workflow's activities write the entries it decided on (step started, completed, ...)
before their own effect, and the entries of the effect (stock committed, packed, invoiced) with
it, all in the activity's one transaction. The staff timeline and the customer progress read the
same rows (`order_service.events`).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from conveyor.order import service as order_service
from conveyor.order.enums import OrderStatus, Step
from conveyor.order.models import OrderEvent, SalesOrder

STEP_STARTED, STEP_COMPLETED = "step_started", "step_completed"
STEP_KINDS = (STEP_STARTED, STEP_COMPLETED)


@dataclass(frozen=True)
class Entry:
    """One trail entry and the order state it moves to (status, current step)."""

    key: str
    kind: str
    message: str = ""
    step: str | None = None
    status: OrderStatus | None = None
    current_step: str | None = None
    clear_step: bool = False
    actor: str = "system"
    at: datetime | None = None  # None: now


def write(*, session: Session, order: SalesOrder, entries: Sequence[Entry]) -> None:
    """Append `entries` in order, each once per key; a written entry's state change is not redone.

    (A retry of the same transaction writes them all again; a later retry finds them written.)
    """
    if not entries:
        return
    keys = [entry.key for entry in entries]
    written = set(session.exec(select(OrderEvent.key).where(col(OrderEvent.key).in_(keys))).all())
    last: dict[str, OrderEvent | None] = {}  # per step: its latest start or completion
    for entry in entries:
        if entry.key in written:
            continue
        event = OrderEvent(
            key=entry.key,
            order_id=order.id or 0,
            step=entry.step,
            kind=entry.kind,
            message=entry.message[:2000],
            actor=entry.actor,
        )
        if entry.at is not None:
            event.at = entry.at
        if entry.kind in STEP_KINDS and entry.step is not None:
            if entry.step not in last:
                last[entry.step] = _last_step_event(session, order, entry.step)
            before = last[entry.step]
            if entry.kind == STEP_COMPLETED and before is not None and before.kind == STEP_STARTED:
                event.seconds = round((event.at - before.at).total_seconds(), 3)
            last[entry.step] = event
        session.add(event)
        written.add(entry.key)
        if entry.status is not None or entry.current_step is not None or entry.clear_step:
            order_service.set_state(
                session=session,
                order=order,
                status=entry.status,
                current_step=entry.current_step,
                clear_step=entry.clear_step,
            )
    session.flush()


def _last_step_event(session: Session, order: SalesOrder, step: str) -> OrderEvent | None:
    """The order's latest start or completion of `step` (a completion pairs with a start)."""
    return session.exec(
        select(OrderEvent)
        .where(OrderEvent.order_id == order.id)
        .where(OrderEvent.step == step)
        .where(col(OrderEvent.kind).in_(STEP_KINDS))
        .order_by(col(OrderEvent.id).desc())
        .limit(1)
    ).first()


def note(
    *,
    session: Session,
    order: SalesOrder,
    key: str,
    kind: str,
    message: str = "",
    step: str | None = None,
    status: OrderStatus | None = None,
    current_step: str | None = None,
    clear_step: bool = False,
    actor: str = "system",
) -> None:
    """Append one entry (once per key), moving the order to `status`/`current_step` if given."""
    write(
        session=session,
        order=order,
        entries=[
            Entry(
                key=key,
                kind=kind,
                message=message,
                step=step,
                status=status,
                current_step=current_step,
                clear_step=clear_step,
                actor=actor,
            )
        ],
    )


def backordered(
    *, session: Session, order: SalesOrder, key: str, step: Step, shortages: Sequence[str]
) -> None:
    """The order waits for stock: status `backordered` and why, unless it already waits."""
    if order.status == OrderStatus.BACKORDERED:
        return
    note(
        session=session,
        order=order,
        key=key,
        kind="backordered",
        message="waiting for stock: " + ", ".join(shortages),
        step=step,
        status=OrderStatus.BACKORDERED,
    )


def available_again(*, session: Session, order: SalesOrder, key: str, step: Step) -> None:
    """A backordered order's stock is there: status `open` again."""
    if order.status != OrderStatus.BACKORDERED:
        return
    note(
        session=session,
        order=order,
        key=key,
        kind="stock_available",
        message="stock available again",
        step=step,
        status=OrderStatus.OPEN,
    )
