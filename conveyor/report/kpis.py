"""Sales KPIs over a period (issue 17): sales by rep, customer, product and channel, order
cycle time, on-time delivery, order accuracy and inventory turnover; a customer's purchasing
habits.

Everything is grouped and counted in the database (GROUP BY, window functions), on SQLite and
PostgreSQL alike; only the grouped rows come back. "Sales" are the orders placed in the period
that are neither quotes nor cancelled; cycle time, on-time delivery and accuracy look at the
orders completed in the period.
"""

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import case, exists, func
from sqlmodel import Session, col, or_, select

from conveyor.core.models import round_money
from conveyor.customer.models import Customer
from conveyor.employee.models import Employee
from conveyor.inventory.models import Product, StockMovement
from conveyor.order.enums import OrderStatus
from conveyor.order.models import OrderEvent, OrderLine, SalesOrder
from conveyor.report.service import nearest_rank, utc_day
from conveyor.returns.models import ReturnAuthorisation
from conveyor.shipping.models import Shipment, ShipmentStatus

SalesBy = Literal["rep", "customer", "product", "channel"]
SALES_BY: tuple[SalesBy, ...] = ("rep", "customer", "product", "channel")
NOT_SALES = (OrderStatus.QUOTE, OrderStatus.CANCELLED)


@dataclass
class SalesRow:
    """One group's sales in one currency: orders (distinct) and their total."""

    key: str  # the rep's e-mail, customer id, SKU or channel ("" for orders without a rep)
    label: str  # what the page shows: the rep's or customer's name, the product's name
    currency: str
    orders: int
    total: Decimal  # orders: SalesOrder.total (with tax); products: the lines' line_total
    qty: int = 0  # products only: units ordered


@dataclass
class CycleTime:
    """Placement to delivery (or completion) of the orders completed in the period, seconds."""

    count: int
    median: float | None
    p95: float | None


@dataclass
class Share:
    """`hits` of `count`, with the share in per cent (None for none)."""

    count: int
    hits: int

    @property
    def percent(self) -> float | None:
        return round(100 * self.hits / self.count, 1) if self.count else None


@dataclass
class Kpis:
    days: int
    since: datetime
    sales: dict[str, list[SalesRow]] = field(default_factory=dict)
    cycle_time: CycleTime = field(default_factory=lambda: CycleTime(0, None, None))
    on_time: Share = field(default_factory=lambda: Share(0, 0))
    # Completed orders with a delivered shipment but no requested date: on time is not known.
    delivered_without_date: int = 0
    accuracy: Share = field(default_factory=lambda: Share(0, 0))
    turnover: list["Turnover"] = field(default_factory=list)


def _placed(since: datetime) -> Any:
    return (col(SalesOrder.created_at) >= since) & col(SalesOrder.status).not_in(NOT_SALES)


def sales(*, session: Session, since: datetime, by: SalesBy) -> list[SalesRow]:
    """Order count and totals per currency of the orders placed since `since`, grouped `by`
    the customer's account rep, the customer, the product (order lines) or the channel; the
    largest first."""
    currency = col(SalesOrder.currency)
    orders = func.count(func.distinct(SalesOrder.id))
    rows: list[SalesRow]
    if by == "product":
        sku, name = col(OrderLine.sku), func.max(OrderLine.name)
        found = session.exec(
            select(  # type: ignore[call-overload]
                sku, name, currency, orders, func.sum(OrderLine.line_total), func.sum(OrderLine.qty)
            )
            .join(SalesOrder, col(SalesOrder.id) == OrderLine.order_id)
            .where(_placed(since))
            .group_by(sku, currency)
        ).all()
        rows = [
            SalesRow(s, n or s, c, int(k), round_money(Decimal(str(t or 0))), int(q or 0))
            for s, n, c, k, t, q in found
        ]
    else:
        total = func.sum(SalesOrder.total)
        query: Any
        if by == "rep":
            key, label = func.coalesce(Employee.email, ""), func.max(Employee.name)
            query = (
                select(key, label, currency, orders, total)  # type: ignore[call-overload]
                .join(Customer, col(Customer.id) == SalesOrder.customer_id)
                .outerjoin(Employee, col(Employee.id) == Customer.account_rep_id)
                .group_by(key, currency)
            )
        elif by == "customer":
            key, label = col(Customer.id), func.max(Customer.name)
            query = (
                select(key, label, currency, orders, total)  # type: ignore[call-overload]
                .join(Customer, col(Customer.id) == SalesOrder.customer_id)
                .group_by(key, currency)
            )
        else:
            key = col(SalesOrder.channel)
            query = select(  # type: ignore[call-overload]
                key, func.max(SalesOrder.channel), currency, orders, total
            ).group_by(key, currency)
        rows = [
            SalesRow(
                str(k),
                n or ("no rep" if by == "rep" else str(k)),
                c,
                int(o),
                round_money(Decimal(str(t or 0))),
            )
            for k, n, c, o, t in session.exec(query.where(_placed(since))).all()
        ]
    return sorted(rows, key=lambda r: (r.currency, -r.total, r.label, r.key))


def _seconds_between(session: Session, start: Any, end: Any) -> Any:
    """SQL: seconds from timestamp `start` to timestamp `end`."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _last_delivery() -> Any:
    """Per order: when its last delivered shipment was delivered."""
    return (
        select(
            col(Shipment.order_id).label("order_id"),
            func.max(Shipment.delivered_at).label("at"),
        )
        .where(Shipment.status == ShipmentStatus.DELIVERED)
        .group_by(col(Shipment.order_id))
        .subquery()
    )


def _completed(since: datetime) -> Any:
    return (col(SalesOrder.status) == OrderStatus.COMPLETED) & (
        col(SalesOrder.completed_at) >= since
    )


def cycle_time(*, session: Session, since: datetime) -> CycleTime:
    """Median and p95 (nearest rank) of placement (`created_at`) to the last shipment's
    delivery, or to completion where the order has no delivered shipment (delivery skipped),
    over the orders completed since `since`."""
    delivered = _last_delivery()
    end = func.coalesce(delivered.c.at, SalesOrder.completed_at)
    values = (
        select(_seconds_between(session, SalesOrder.created_at, end).label("seconds"))
        .select_from(SalesOrder)
        .outerjoin(delivered, delivered.c.order_id == SalesOrder.id)
        .where(_completed(since))
        .subquery()
    )
    if session.get_bind().dialect.name == "postgresql":
        n, median, p95 = session.exec(
            select(
                func.count(),
                func.percentile_disc(0.5).within_group(values.c.seconds),
                func.percentile_disc(0.95).within_group(values.c.seconds),
            )
        ).one()
        return CycleTime(int(n), _rounded(median), _rounded(p95))
    ranked = select(
        values.c.seconds,
        func.row_number().over(order_by=values.c.seconds).label("rank"),
        func.count().over().label("n"),
    ).subquery()
    rows = session.exec(
        select(ranked.c.n, ranked.c.rank, ranked.c.seconds).where(
            or_(
                ranked.c.rank == nearest_rank(ranked.c.n, 50),
                ranked.c.rank == nearest_rank(ranked.c.n, 95),
            )
        )
    ).all()
    found = CycleTime(0, None, None)
    for n, rank, seconds in rows:
        found.count = int(n)
        if rank == max(1, math.ceil(50 * n / 100)):
            found.median = _rounded(seconds)
        if rank == max(1, math.ceil(95 * n / 100)):
            found.p95 = _rounded(seconds)
    return found


def _rounded(seconds: object) -> float | None:
    return None if seconds is None else round(float(str(seconds)), 0)


def delivery_and_accuracy(*, session: Session, since: datetime) -> tuple[Share, int, Share]:
    """Of the orders completed since `since`: on-time delivery (the last shipment delivered on
    or before the requested delivery date, UTC days, among delivered orders that carry one),
    how many delivered orders carry no requested date, and order accuracy (completed in one
    shipment, none failed, never amended, nothing returned, and on time where a date was
    requested)."""
    delivered = _last_delivery()
    requested = col(SalesOrder.requested_delivery_date)
    on_time = utc_day(session, delivered.c.at) <= requested
    shipments = (
        select(func.count())
        .where(Shipment.order_id == SalesOrder.id)
        .correlate(SalesOrder)
        .scalar_subquery()
    )
    failed = exists().where(
        (col(Shipment.order_id) == SalesOrder.id) & (Shipment.status == ShipmentStatus.FAILED)
    )
    amended = exists().where(
        (col(OrderEvent.order_id) == SalesOrder.id) & (OrderEvent.kind == "amended")
    )
    returned = exists().where(col(ReturnAuthorisation.order_id) == SalesOrder.id)
    dated = delivered.c.at.is_not(None) & requested.is_not(None)
    accurate = (
        (shipments == 1)
        & ~failed
        & ~amended
        & ~returned
        & (requested.is_(None) | (delivered.c.at.is_not(None) & on_time))
    )

    def flag(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    count, with_date, in_time, undated, exact = session.exec(
        select(  # type: ignore[call-overload]
            func.count(),
            flag(dated),
            flag(dated & on_time),
            flag(delivered.c.at.is_not(None) & requested.is_(None)),
            flag(accurate),
        )
        .select_from(SalesOrder)
        .outerjoin(delivered, delivered.c.order_id == SalesOrder.id)
        .where(_completed(since))
    ).one()
    return (
        Share(int(with_date or 0), int(in_time or 0)),
        int(undated or 0),
        Share(int(count or 0), int(exact or 0)),
    )


def kpis(*, session: Session, since: datetime, days: int) -> Kpis:
    """Every KPI of the period."""
    on_time, undated, accuracy = delivery_and_accuracy(session=session, since=since)
    return Kpis(
        days=days,
        since=since,
        sales={by: sales(session=session, since=since, by=by) for by in SALES_BY},
        cycle_time=cycle_time(session=session, since=since),
        on_time=on_time,
        delivered_without_date=undated,
        accuracy=accuracy,
        turnover=inventory_turnover(session=session, since=since),
    )


@dataclass
class HabitTotals:
    """A customer's orders in one currency: how many, their total and average value."""

    currency: str
    orders: int
    total: Decimal
    average: Decimal


@dataclass
class TopItem:
    sku: str
    name: str
    qty: int
    orders: int


@dataclass
class Habits:
    """A customer's purchasing habits over their whole history (quotes and cancelled orders
    left out): totals and average order value per currency, order frequency, top items."""

    orders: int
    totals: list[HabitTotals]
    first: datetime | None
    last: datetime | None
    per_month: float | None  # orders / (days from the first order to `now` / 30), at least 1
    days_between: float | None  # (last - first) / (orders - 1) in days; None below two orders
    top_items: list[TopItem]


def habits(*, session: Session, customer_id: int, now: datetime, top: int = 5) -> Habits:
    """Grouped in the database: totals per currency, first and last order, the `top` items by
    units ordered (order lines)."""
    placed = (col(SalesOrder.customer_id) == customer_id) & col(SalesOrder.status).not_in(NOT_SALES)
    currency = col(SalesOrder.currency)
    totals = [
        HabitTotals(
            c,
            int(n),
            round_money(Decimal(str(t or 0))),
            round_money(Decimal(str(t or 0)) / int(n)),
        )
        for c, n, t in session.exec(
            select(currency, func.count(), func.sum(SalesOrder.total))
            .where(placed)
            .group_by(currency)
        ).all()
    ]
    count, first, last = session.exec(
        select(
            func.count(), func.min(SalesOrder.created_at), func.max(SalesOrder.created_at)
        ).where(placed)
    ).one()
    first, last = _aware(first), _aware(last)
    items = session.exec(
        select(  # type: ignore[call-overload]
            col(OrderLine.sku),
            func.max(OrderLine.name),
            func.sum(OrderLine.qty),
            func.count(func.distinct(OrderLine.order_id)),
        )
        .join(SalesOrder, col(SalesOrder.id) == OrderLine.order_id)
        .where(placed)
        .group_by(col(OrderLine.sku))
        .order_by(func.sum(OrderLine.qty).desc(), col(OrderLine.sku))
        .limit(top)
    ).all()
    count = int(count or 0)
    per_month = days_between = None
    if first is not None and last is not None:
        months = max((now - first).total_seconds() / 86400 / 30, 1.0)
        per_month = round(count / months, 2)
        if count > 1:
            days_between = round((last - first).total_seconds() / 86400 / (count - 1), 1)
    return Habits(
        orders=count,
        totals=sorted(totals, key=lambda t: t.currency),
        first=first,
        last=last,
        per_month=per_month,
        days_between=days_between,
        top_items=[TopItem(s, n or s, int(q or 0), int(o)) for s, n, q, o in items],
    )


def _aware(value: object) -> datetime | None:
    """A timestamp read by an aggregate (SQLite gives it back as text), in UTC."""
    if value is None:
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


# How each ledger kind moves a product's on-hand (all warehouses); the others leave it as is
# (commit/release move `committed`, moves and relocations cancel out, a return's scrap never
# re-entered stock).
ON_HAND_SIGN = {"receive": 1, "adjust_in": 1, "pack": -1, "adjust_out": -1}


@dataclass
class Turnover:
    """Inventory turnover in one currency (the products'): COGS over average stock value."""

    currency: str
    cogs: Decimal  # packs of the period at the average cost they left at (the journal's COGS)
    opening: Decimal  # on-hand at the start of the period x today's average cost
    closing: Decimal  # on-hand now x today's average cost
    average: Decimal  # (opening + closing) / 2

    @property
    def turns(self) -> Decimal | None:
        return (self.cogs / self.average).quantize(Decimal("0.01")) if self.average else None


def inventory_turnover(*, session: Session, since: datetime) -> list[Turnover]:
    """Per product currency, grouped in the database: the cost of goods sold since `since`
    (the journal's `cogs` documents: packs x unit cost) and the average stock value, the mean
    of the opening and closing value (on-hand now, and on-hand now less the period's net
    movements, both at the product's average cost now)."""
    sign = case(
        *((col(StockMovement.kind) == kind, s) for kind, s in ON_HAND_SIGN.items()), else_=0
    )
    moved = (
        select(
            col(StockMovement.sku).label("sku"),
            func.sum(sign * StockMovement.qty).label("net"),
            func.sum(
                case(
                    (
                        col(StockMovement.kind) == "pack",
                        StockMovement.qty * func.coalesce(StockMovement.unit_cost, 0),
                    ),
                    (  # restocked returns take their cost back out of COGS, as the journal does
                        (col(StockMovement.kind) == "receive")
                        & col(StockMovement.order_number).is_not(None),
                        -StockMovement.qty * func.coalesce(StockMovement.unit_cost, 0),
                    ),
                    else_=0,
                )
            ).label("cogs"),
        )
        .where(StockMovement.at >= since)
        .group_by(col(StockMovement.sku))
        .subquery()
    )
    net = func.coalesce(moved.c.net, 0)
    cost = col(Product.average_cost)
    rows = session.exec(
        select(
            col(Product.currency),
            func.sum(func.coalesce(moved.c.cogs, 0)),
            func.sum((col(Product.on_hand) - net) * cost),
            func.sum(col(Product.on_hand) * cost),
        )
        .outerjoin(moved, moved.c.sku == Product.sku)
        .group_by(col(Product.currency))
    ).all()
    found = []
    for currency, cogs, opening, closing in rows:
        start, end = (
            round_money(Decimal(str(opening or 0))),
            round_money(Decimal(str(closing or 0))),
        )
        found.append(
            Turnover(
                currency,
                round_money(Decimal(str(cogs or 0))),
                start,
                end,
                round_money((start + end) / 2),
            )
        )
    return sorted(found, key=lambda t: t.currency)
