"""Column types and helpers shared by every table: UTC timestamps, money, JSON lists."""

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from sqlalchemy import JSON, DateTime, Numeric
from sqlalchemy.types import TypeDecorator
from sqlmodel import Column, Field

CENT = Decimal("0.01")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def round_money(amount: Decimal) -> Decimal:
    """Round an amount half-up to cents, the one rounding rule for money."""
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite forgets zones)."""

    impl = DateTime
    cache_ok = True

    def __init__(self, timezone: bool = True) -> None:
        super().__init__(timezone=timezone)

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Conveyor stores timezone-aware UTC only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def timestamp_field(*, nullable: bool = False, default_now: bool = True) -> Any:
    """A timezone-aware UTC timestamp column (None until set when not `default_now`)."""
    if not default_now:  # default_factory=None would make the field required
        return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=nullable))


def money_field(*, default: Decimal | None = Decimal("0.00")) -> Any:
    """A Decimal money column with two decimals."""
    return Field(default=default, sa_column=Column(Numeric(14, 2), nullable=default is None))


def json_list_field() -> Any:
    """A list stored as JSON (roles, tags)."""
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class HasId(Protocol):
    """A table row: its primary key stays None until the row is flushed."""

    @property
    def id(self) -> int | None: ...


def row_id(row: HasId) -> int:
    """The primary key of a row that was loaded or flushed; an error for one never flushed."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id yet: it was never flushed")
    return row.id
