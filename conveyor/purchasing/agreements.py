"""What a supplier's price rows and group discounts share: each a row from a quantity on,
from a date, added once (a second one alike is a Conflict) or removed, audited on the
supplier."""

from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col

from conveyor.audit.service import Actor, record, snapshot
from conveyor.core.errors import Conflict, NotFound
from conveyor.purchasing.models import Supplier


def same_start(column: Any, valid_from: date | None) -> Any:
    """The clause for rows starting when `valid_from` does (the unique constraints cannot see
    two rows without a start: NULLs differ, so the services ask first)."""
    start = col(column)
    return start.is_(None) if valid_from is None else start == valid_from


def add_row(
    *,
    session: Session,
    supplier: Supplier,
    row: SQLModel,
    alike: Any,
    taken: Conflict,
    action: str,
    actor: Actor,
) -> None:
    """Add `row` for the supplier unless the query `alike` finds one like it (`taken`, also
    when a concurrent add wins the unique constraint); audited as `action`."""
    if session.exec(alike).first() is not None:
        raise taken
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        raise taken from exc
    record(
        session,
        actor=actor,
        action=action,
        entity="supplier",
        entity_id=supplier.code,
        after=snapshot(row),
    )


def delete_row(
    *,
    session: Session,
    supplier: Supplier,
    model: type[SQLModel],
    row_id: int,
    what: str,
    action: str,
    actor: Actor,
) -> None:
    """Remove the supplier's row `row_id` of `model` (NotFound naming `what` when it is not
    theirs); audited as `action`."""
    row = session.get(model, row_id)
    if row is None or getattr(row, "supplier_id", None) != supplier.id:
        raise NotFound(f"{supplier.code} has no {what} {row_id}")
    before = snapshot(row)
    session.delete(row)
    session.flush()
    record(
        session,
        actor=actor,
        action=action,
        entity="supplier",
        entity_id=supplier.code,
        before=before,
    )
