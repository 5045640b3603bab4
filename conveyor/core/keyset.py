"""Keyset pagination and capped counts: deep pages and big totals without scanning everything.

A page after a cursor starts where the last one ended (`WHERE (due_at, id) > (:due, :id)`), so
the database reads one page's rows from an index however deep the page is, where an OFFSET reads
and throws away every row before it. A column that may be NULL splits an order in segments (the
rows with a due time, then those without), each walked by its own index range, because a row
value comparison never matches NULL. The cursor names the order, the segment and the last key.
"""

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Row as SQLRow
from sqlalchemy import func, literal, tuple_
from sqlalchemy import select as sa_select
from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar

from conveyor.core.errors import Invalid

Row = TypeVar("Row")

# How far a list counts its rows: beyond, the total is shown as "10,000+" (counting every one of
# a million rows on each request costs more than the page itself).
COUNT_CAP = 10_000
MAX_OFFSET = 2**62  # beyond what a 64-bit OFFSET holds, with room to add the limit


def _everything(_: Any) -> bool:
    return True


@dataclass(frozen=True)
class Segment:
    """Rows of an order that share one index range: `columns` ascending (or all descending),
    the last one unique (the id); `where` selects them, `holds` says it of a fetched row."""

    columns: tuple[Any, ...]
    descending: bool = False
    where: Any = None
    holds: Callable[[Any], bool] = _everything


@dataclass(frozen=True)
class KeysetOrder:
    """A stable order by name: its segments for cursors, `order_by` for OFFSET pages (the same
    order in one ORDER BY)."""

    name: str
    segments: tuple[Segment, ...]
    order_by: tuple[Any, ...] = field(default=())

    def terms(self) -> tuple[Any, ...]:
        """The ORDER BY of the whole order (defaults to the one segment's columns)."""
        if self.order_by:
            return self.order_by
        (only,) = self.segments
        return tuple(c.desc() if only.descending else c.asc() for c in only.columns)


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after `key` in segment `segment` of order `order`."""

    order: str
    segment: int
    key: tuple[Any, ...]


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def encode(cursor: Cursor) -> str:
    """The cursor as an opaque URL-safe string."""
    raw = json.dumps([cursor.order, cursor.segment, [_plain(v) for v in cursor.key]])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(text: str, order: KeysetOrder) -> Cursor:
    """The cursor `encode` made for this order; Invalid (422) for anything else."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        name, segment, key = json.loads(raw)
        if name != order.name:
            raise Invalid(f"this cursor belongs to the sort {name!r}, not {order.name!r}")
        if not isinstance(segment, int) or not 0 <= segment < len(order.segments):
            raise ValueError(text)
        columns = order.segments[segment].columns
        if not isinstance(key, list) or len(key) != len(columns):
            raise ValueError(text)
        values = tuple(_typed(column, value) for column, value in zip(columns, key, strict=True))
    except (ValueError, TypeError, IndexError, binascii.Error, UnicodeDecodeError):
        raise Invalid("not a cursor this list gave out") from None
    return Cursor(name, segment, values)


def _typed(column: Any, value: Any) -> Any:
    sql_type = column.type
    kind = getattr(sql_type, "impl", sql_type).python_type  # a TypeDecorator: its impl's type
    if kind is datetime:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError(value)
        return parsed
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(value)
    if kind is str and not isinstance(value, str):
        raise ValueError(value)
    return value


def _after(segment: Segment, key: Sequence[Any]) -> Any:
    values = [literal(v, c.type) for c, v in zip(segment.columns, key, strict=True)]
    column: Any = segment.columns[0] if len(values) == 1 else tuple_(*segment.columns)
    value: Any = values[0] if len(values) == 1 else tuple_(*values)
    return column < value if segment.descending else column > value


def _cursor_of(order: KeysetOrder, row: Any) -> Cursor:
    for number, segment in enumerate(order.segments):
        if segment.holds(row):
            key = tuple(getattr(row, c.key) for c in segment.columns)
            return Cursor(order.name, number, key)
    raise AssertionError(f"a row outside every segment of {order.name}")


def fetch(
    session: Session,
    query: SelectOfScalar[Row],
    order: KeysetOrder,
    *,
    limit: int,
    after: str | None = None,
    offset: int = 0,
) -> tuple[list[Row], str | None]:
    """One page in `order`: after the cursor `after`, else from `offset`; and the cursor of the
    next page (None on the last one)."""
    if after is None:
        found = list(session.exec(query.order_by(*order.terms()).offset(offset).limit(limit + 1)))
    else:
        cursor = decode(after, order)
        found = []
        for number in range(cursor.segment, len(order.segments)):
            segment = order.segments[number]
            part = query if segment.where is None else query.where(segment.where)
            if number == cursor.segment:
                part = part.where(_after(segment, cursor.key))
            terms = [c.desc() if segment.descending else c.asc() for c in segment.columns]
            found += session.exec(part.order_by(*terms).limit(limit + 1 - len(found)))
            if len(found) > limit:
                break
    rows = found[:limit]
    more = len(found) > limit
    return rows, encode(_cursor_of(order, rows[-1])) if more else None


def capped_count(session: Session, query: Any, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """How many rows `query` selects, counted up to `cap`: (count, exact). Beyond the cap the
    answer is (cap, False): "at least this many"."""
    # Counting a constant, not the rows' columns, lets the database answer from an index alone
    # (not under DISTINCT, whose rows are told apart by those columns).
    bare = (
        query
        if query._distinct
        else query.with_only_columns(literal(1), maintain_column_froms=True)
    )
    bare = bare.limit(cap + 1)
    counted = session.exec(select(func.count()).select_from(bare.subquery())).one()
    return (cap, False) if counted > cap else (int(counted), True)


@dataclass
class Page(Generic[Row]):
    """One page of a list: its rows, how many match (`exact` False: at least `count`), and the
    cursor of the next page (None: this is the last)."""

    rows: list[Row]
    count: int
    exact: bool = True
    next_cursor: str | None = None


def page(
    session: Session,
    query: SelectOfScalar[Row],
    order: KeysetOrder,
    *,
    limit: int,
    after: str | None = None,
    offset: int = 0,
    cap: int = COUNT_CAP,
) -> Page[Row]:
    """The page (after the cursor, else at `offset`) with its capped count and next cursor."""
    count, exact = capped_count(session, query, cap)
    if after is None and exact and offset >= count:  # past the end (and no 64-bit OFFSET)
        return Page([], count, exact)
    if after is None and offset > MAX_OFFSET:
        return Page([], count, exact)
    rows, next_cursor = fetch(session, query, order, limit=limit, after=after, offset=offset)
    return Page(rows, count, exact, next_cursor)


def values_page(
    session: Session,
    query: SelectOfScalar[Any],
    order: KeysetOrder,
    *,
    limit: int,
    after: str | None = None,
    offset: int = 0,
    cap: int = COUNT_CAP,
) -> Page[SQLRow[Any]]:
    """`page` of an ORM entity's query, its rows read as plain column values (attributes and
    `._mapping`) instead of ORM objects: a list the API answers with as it is skips building,
    tracking and validating an object per row (about a third of a 100-row page's CPU)."""
    # The entity's columns under the query's WHERE (these queries select one entity, no join).
    assert not query._setup_joins and len(query.column_descriptions) == 1
    entity = query.column_descriptions[0]["entity"]
    columns: Any = sa_select(*entity.__table__.columns)
    if query.whereclause is not None:
        columns = columns.where(query.whereclause)
    return page(session, columns, order, limit=limit, after=after, offset=offset, cap=cap)
