"""Cash drawer sessions: opened with a float, cash in (sales) and out (refunds), closed counted.

One open session per employee (the unique `open_for` column refuses a second); every change is
audited in its transaction. The expected amount moves by an UPDATE of its own, so two tills
writing at once never lose a sale.
"""

from decimal import Decimal

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from conveyor.audit.service import Actor, record, snapshot
from conveyor.core.db import page
from conveyor.core.errors import Conflict
from conveyor.core.models import round_money, row_id, utcnow
from conveyor.pos.models import CashDrawer, CashMovement, DrawerClose, DrawerOpen, DrawerStatus

ZERO = Decimal("0.00")
AUDIT_FIELDS = ("status", "currency", "opening_float", "expected", "counted", "difference")


class NoOpenDrawerError(Conflict):
    """The employee has no open cash drawer session."""


def open_of(*, session: Session, employee_id: int, lock: bool = False) -> CashDrawer | None:
    """The employee's open drawer session, or None; `lock` locks its row (PostgreSQL)."""
    query = select(CashDrawer).where(CashDrawer.open_for == employee_id)
    if lock:
        query = query.with_for_update()
    return session.exec(query).first()


def require_open(*, session: Session, employee_id: int, lock: bool = False) -> CashDrawer:
    """The employee's open drawer session; NoOpenDrawerError says what to do without one."""
    drawer = open_of(session=session, employee_id=employee_id, lock=lock)
    if drawer is None:
        raise NoOpenDrawerError(
            "no open cash drawer: open your drawer with its float before taking or paying out cash"
        )
    return drawer


def get(*, session: Session, drawer_id: int) -> CashDrawer | None:
    """The drawer session with that id, or None."""
    return session.get(CashDrawer, drawer_id)


def list_drawers(
    *, session: Session, employee_id: int | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[CashDrawer], int]:
    """Drawer sessions newest first (optionally one employee's), with the total count."""
    query = select(CashDrawer)
    if employee_id is not None:
        query = query.where(CashDrawer.employee_id == employee_id)
    return page(session, query, col(CashDrawer.id).desc(), limit=limit, offset=offset)


def totals(*, session: Session, drawer_id: int) -> tuple[Decimal, Decimal]:
    """(cash sales, cash refunds) of the session, both as positive amounts."""
    rows = session.exec(
        select(CashMovement.kind, func.coalesce(func.sum(CashMovement.amount), 0))
        .where(CashMovement.drawer_id == drawer_id)
        .group_by(CashMovement.kind)
    ).all()
    by_kind = {kind: round_money(Decimal(amount)) for kind, amount in rows}
    return by_kind.get("sale", ZERO), -by_kind.get("refund", ZERO)


def open_drawer(
    *, session: Session, employee_id: int, drawer_in: DrawerOpen, actor: Actor
) -> CashDrawer:
    """Open the employee's drawer session with its float; Conflict while one is open."""
    current = open_of(session=session, employee_id=employee_id)
    if current is not None:
        raise Conflict(
            f"your cash drawer is open since {current.opened_at:%Y-%m-%d %H:%M} UTC "
            f"(session {current.id}): close it before opening another"
        )
    drawer = CashDrawer(
        employee_id=employee_id,
        open_for=employee_id,
        currency=drawer_in.currency,
        opening_float=round_money(drawer_in.opening_float),
        expected=round_money(drawer_in.opening_float),
        opened_by=actor.name,
    )
    try:
        with session.begin_nested():
            session.add(drawer)
            session.flush()
    except IntegrityError as exc:  # opened at the same moment by another request
        raise Conflict("your cash drawer was opened meanwhile: close it first") from exc
    record(
        session,
        actor=actor,
        action="pos.drawer_open",
        entity="cash_drawer",
        entity_id=drawer.id,
        after=snapshot(drawer, AUDIT_FIELDS),
    )
    return drawer


def close_drawer(
    *, session: Session, employee_id: int, close_in: DrawerClose, actor: Actor
) -> CashDrawer:
    """Close the employee's open session with the cash counted; the difference (counted -
    expected, negative when short) is recorded and audited."""
    drawer = require_open(session=session, employee_id=employee_id, lock=True)
    session.refresh(drawer)
    before = snapshot(drawer, AUDIT_FIELDS)
    drawer.counted = round_money(close_in.counted)
    drawer.difference = drawer.counted - drawer.expected
    drawer.status = DrawerStatus.CLOSED
    drawer.open_for = None
    drawer.closed_by = actor.name
    drawer.closed_at = utcnow()
    drawer.note = close_in.note
    session.add(drawer)
    session.flush()
    record(
        session,
        actor=actor,
        action="pos.drawer_close",
        entity="cash_drawer",
        entity_id=drawer.id,
        before=before,
        after=snapshot(drawer, AUDIT_FIELDS) | {"note": drawer.note},
    )
    return drawer


def move_cash(
    *,
    session: Session,
    drawer: CashDrawer,
    key: str,
    kind: str,
    amount: Decimal,
    order_number: str | None,
    actor: Actor,
    reference: str | None = None,
) -> CashMovement:
    """Put cash in (amount > 0) or take it out (< 0) of the open session, once per `key`."""
    existing = session.exec(select(CashMovement).where(CashMovement.key == key)).first()
    if existing is not None:
        return existing
    if drawer.status != DrawerStatus.OPEN:
        raise Conflict(f"cash drawer session {drawer.id} is closed")
    movement = CashMovement(
        key=key,
        drawer_id=row_id(drawer),
        kind=kind,
        amount=round_money(amount),
        order_number=order_number,
        reference=reference,
        actor=actor.name,
    )
    session.add(movement)
    session.exec(
        update(CashDrawer)
        .where(col(CashDrawer.id) == drawer.id)
        .values(expected=CashDrawer.expected + movement.amount)
    )
    session.flush()
    session.refresh(drawer)
    return movement
