"""Accounts-receivable ageing: what each customer still owes, by days past the due date, in SQL."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func
from sqlmodel import Session, col, select

from conveyor.core.models import round_money
from conveyor.customer.models import Customer
from conveyor.invoice import read as invoice_read
from conveyor.invoice.models import Invoice
from conveyor.order.models import SalesOrder

# (label, first day past due, last day past due): None is open-ended.
BUCKETS: tuple[tuple[str, int | None, int | None], ...] = (
    ("current", None, 0),
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("90+", 91, None),
)
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class AgeingRow:
    """One customer's open receivables in one currency, by bucket (`BUCKETS` order)."""

    customer_id: int
    customer: str
    currency: str
    buckets: tuple[Decimal, ...]

    @property
    def total(self) -> Decimal:
        return sum(self.buckets, ZERO)


@dataclass
class AgeingTotal:
    """The buckets added up over all customers, in one currency."""

    currency: str
    buckets: list[Decimal] = field(default_factory=lambda: [ZERO] * len(BUCKETS))

    @property
    def total(self) -> Decimal:
        return sum(self.buckets, ZERO)


def _money(value: Any) -> Decimal:
    # SQLite sums money as floating point: back to cents through its text.
    return round_money(Decimal(str(value or 0)))


def ageing(*, session: Session, now: datetime, customer_id: int | None = None) -> list[AgeingRow]:
    """Open receivables per customer and currency, by days past due as of `now` (current: not
    yet past due), in one grouped query; customers owing nothing are left out."""
    per_invoice = (
        select(
            col(Customer.id).label("customer_id"),
            col(Customer.name).label("customer"),
            col(Invoice.currency).label("currency"),
            invoice_read.open_amount().label("open"),
            invoice_read.days_past_due(session, now).label("past"),
        )
        .select_from(Invoice)
        .join(SalesOrder, col(SalesOrder.id) == col(Invoice.order_id))
        .join(Customer, col(Customer.id) == col(SalesOrder.customer_id))
    )
    if customer_id is not None:
        per_invoice = per_invoice.where(col(Customer.id) == customer_id)
    inner = per_invoice.subquery()

    def bucket(low: int | None, high: int | None) -> Any:
        bounds = []
        if low is not None:
            bounds.append(inner.c.past >= low)
        if high is not None:
            bounds.append(inner.c.past <= high)
        return func.coalesce(func.sum(case((and_(*bounds), inner.c.open), else_=0)), 0)

    query = (
        select(
            inner.c.customer_id,
            inner.c.customer,
            inner.c.currency,
            *(bucket(low, high) for _, low, high in BUCKETS),
        )
        .where(inner.c.open > invoice_read.SETTLED)
        .group_by(inner.c.customer_id, inner.c.customer, inner.c.currency)
        .order_by(inner.c.customer, inner.c.customer_id, inner.c.currency)
    )
    return [
        AgeingRow(
            customer_id=row[0],
            customer=row[1],
            currency=row[2],
            buckets=tuple(_money(v) for v in row[3:]),
        )
        for row in session.exec(query).all()
    ]


def totals(rows: list[AgeingRow]) -> list[AgeingTotal]:
    """The rows' buckets added up per currency."""
    by_currency: dict[str, AgeingTotal] = {}
    for row in rows:
        total = by_currency.setdefault(row.currency, AgeingTotal(row.currency))
        total.buckets = [a + b for a, b in zip(total.buckets, row.buckets, strict=True)]
    return [by_currency[c] for c in sorted(by_currency)]


CSV_HEADER = ["customer_id", "customer", "currency", *(label for label, _, _ in BUCKETS), "total"]


def csv_rows(rows: list[AgeingRow]) -> list[list[object]]:
    """The ageing as CSV cells, one row per customer and currency, then a total per currency."""
    cells: list[list[object]] = [
        [r.customer_id, r.customer, r.currency, *r.buckets, r.total] for r in rows
    ]
    cells += [["", "total", t.currency, *t.buckets, t.total] for t in totals(rows)]
    return cells
