"""Read models for the monitor and reports, computed from orders, events and tasks.

Grouping by day, counts and percentiles happen in the database (window functions and the
dialect's day and time arithmetic, on SQLite and PostgreSQL alike), so a long period returns a
few rows, not every event of it; every query is bounded by a period or a limit.
"""

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func
from sqlmodel import Session, col, or_, select

from conveyor.core.db import contains_text
from conveyor.core.errors import Invalid
from conveyor.core.keyset import COUNT_CAP, capped_count
from conveyor.core.models import round_money, utcnow
from conveyor.customer.models import Customer
from conveyor.employee.models import Employee
from conveyor.invoice.models import CreditNote, Invoice
from conveyor.order.enums import STEPS, OrderStatus
from conveyor.order.models import OrderEvent, SalesOrder
from conveyor.task.models import Task, TaskStatus


@dataclass
class StepDuration:
    """How long a step took over a period: count, median and 95th percentile in seconds."""

    step: str
    count: int
    median: float | None
    p95: float | None


@dataclass
class DayTotals:
    """One day's figures per currency; each field's comment is the definition the page prints.

    Bookings and revenue differ: an order booked today may be invoiced next week (or never, if it
    is cancelled), and a credit note reduces the revenue of the day it is issued.
    """

    day: date
    orders: int = 0  # orders placed that day (quotes and cancelled orders left out)
    cancelled: int = 0  # orders placed that day and cancelled since
    quotes: int = 0  # quotes made that day and not accepted (yet)
    bookings: dict[str, Decimal] = field(default_factory=dict)  # value of those orders, with tax
    revenue: dict[str, Decimal] = field(default_factory=dict)  # invoiced less credited, net of tax


def _add(totals: dict[str, Decimal], currency: str, amount: object) -> None:
    totals[currency] = round_money(totals.get(currency, Decimal("0.00")) + Decimal(str(amount)))


@dataclass
class Workload:
    """One employee's work over a period, shown by name (the e-mail for the CSV)."""

    who: str
    email: str
    completed: int = 0
    open_now: int = 0
    late: int = 0  # completed after the due time, or open and past it now


@dataclass
class SlaBreach:
    """Tasks of one step and role that missed (or are missing) their due time."""

    step: str
    role: str
    breached: int
    with_sla: int


def bounded_days(longest: int, days: int) -> int:
    """`days`, or Invalid (422) beyond `longest`, the longest period a report covers."""
    if days > longest:
        raise Invalid(f"reports cover at most {longest} days; {days} asked for")
    return days


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) by the nearest-rank method; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


# Where finished orders pile up: a year of them is most of the table, so they are counted up to
# the cap (shown "10,000+"); the orders still in flight are counted exactly.
FINISHED = (OrderStatus.COMPLETED, OrderStatus.CANCELLED)


class StepCounts(dict[tuple[str | None, str], int]):
    """Orders per (current step, status); `capped` holds the cells that are "at least"."""

    def __init__(self, counts: dict[tuple[str | None, str], int]) -> None:
        super().__init__(counts)
        self.capped: set[tuple[str | None, str]] = set()


def counts_by_step_and_status(*, session: Session, cap: int = COUNT_CAP) -> StepCounts:
    """How many orders sit at each (current step, status): in flight exactly (one grouped read
    of ix_salesorder_status_step), finished up to `cap` per status."""
    step, status = col(SalesOrder.current_step), col(SalesOrder.status)
    live = [s for s in OrderStatus if s not in FINISHED]
    rows = session.exec(
        select(step, status, func.count()).where(status.in_(live)).group_by(step, status)
    ).all()
    found = StepCounts({(s, st): int(n) for s, st, n in rows})
    for done in FINISHED:
        total, exact = capped_count(session, select(SalesOrder.id).where(status == done), cap)
        if not exact:
            found[(None, done)] = total
            found.capped.add((None, done))
            continue
        for s, n in session.exec(
            select(step, func.count()).where(status == done).group_by(step)
        ).all():
            found[(s, done)] = int(n)
    return found


def overdue_tasks(*, session: Session, limit: int = 50) -> list[tuple[Task, SalesOrder]]:
    """Open tasks past their due time (SLA breached), the longest overdue first."""
    rows = session.exec(
        select(Task, SalesOrder)
        .join(SalesOrder, col(SalesOrder.id) == Task.order_id)
        .where(Task.status == TaskStatus.OPEN)
        .where(col(Task.due_at).is_not(None))
        .where(col(Task.due_at) < utcnow())
        .order_by(col(Task.due_at))
        .limit(limit)
    ).all()
    return [(task, order) for task, order in rows]


def search_orders(
    *,
    session: Session,
    q: str | None = None,
    step: str | None = None,
    status: str | None = None,
    assignee: str | None = None,
    limit: int = 50,
) -> list[SalesOrder]:
    """Orders by number / external ref / customer name or e-mail, step, status, assignee."""
    query = select(SalesOrder).join(Customer, col(Customer.id) == SalesOrder.customer_id)
    if q:
        text = q.strip()
        query = query.where(
            or_(
                contains_text(col(SalesOrder.number), text),
                contains_text(col(SalesOrder.external_ref), text),
                contains_text(col(Customer.name), text),
                contains_text(col(Customer.email), text),
            )
        )
    if step:
        query = query.where(SalesOrder.current_step == step)
    if status:
        query = query.where(SalesOrder.status == status)
    if assignee:
        who = assignee.strip()
        holders = (
            select(Task.order_id)
            .join(Employee, col(Employee.id) == Task.assignee_id)
            .where(Task.status == TaskStatus.OPEN)
            .where(
                or_(contains_text(col(Employee.email), who), contains_text(col(Employee.name), who))
            )
        )
        query = query.where(col(SalesOrder.id).in_(holders))
    return list(session.exec(query.order_by(col(SalesOrder.id).desc()).limit(limit)).all())


def utc_day(session: Session, column: Any) -> Any:
    """SQL: the UTC calendar day of a timestamp column."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)  # SQLite stores the UTC time without its zone


def nearest_rank(n: Any, q: int) -> Any:
    """SQL: the nearest rank of the q-th percentile among n values, ceil(q * n / 100)."""
    return (n * q + 99) // 100


def step_durations(*, session: Session, since: datetime) -> list[StepDuration]:
    """Median and p95 time from `step_started` to `step_completed`, per step, of the steps
    completed since `since`.

    Each completion carries its duration (`seconds`, written with it by the trail: the time
    since the latest start of its order and step, when the entry before it was a start), so
    the database only ranks the period's completions, read by kind and time
    (ix_orderevent_kind_at); only the percentile rows come back.
    """
    pairs = (
        select(col(OrderEvent.step).label("step"), col(OrderEvent.seconds).label("seconds"))
        .where(OrderEvent.kind == "step_completed")
        .where(OrderEvent.at >= since)
        .where(col(OrderEvent.step).is_not(None))
        .where(col(OrderEvent.seconds).is_not(None))
        .subquery()
    )
    if session.get_bind().dialect.name == "postgresql":
        return _ranked_by_aggregate(session, pairs)
    ranked = select(
        pairs.c.step,
        pairs.c.seconds,
        func.row_number().over(partition_by=pairs.c.step, order_by=pairs.c.seconds).label("rank"),
        func.count().over(partition_by=pairs.c.step).label("n"),
    ).subquery()
    rows = session.exec(
        select(ranked.c.step, ranked.c.n, ranked.c.rank, ranked.c.seconds).where(
            or_(
                ranked.c.rank == nearest_rank(ranked.c.n, 50),
                ranked.c.rank == nearest_rank(ranked.c.n, 95),
            )
        )
    ).all()
    found: dict[str, StepDuration] = {}
    for step, n, rank, seconds in rows:
        entry = found.setdefault(step, StepDuration(step, int(n), None, None))
        value = round(float(seconds), 3)
        if rank == max(1, math.ceil(50 * n / 100)):
            entry.median = value
        if rank == max(1, math.ceil(95 * n / 100)):
            entry.p95 = value
    return [found.get(step, StepDuration(step, 0, None, None)) for step in STEPS]


def _ranked_by_aggregate(session: Session, pairs: Any) -> list[StepDuration]:
    """PostgreSQL: the same nearest-rank percentiles as ordered-set aggregates per step
    (`percentile_disc(p)` is the first value whose share of the ranks reaches p: rank
    ceil(p * n)), a third of the window's time at 300,000 orders."""
    rows = session.exec(
        select(
            pairs.c.step,
            func.count(),
            func.percentile_disc(0.5).within_group(pairs.c.seconds),
            func.percentile_disc(0.95).within_group(pairs.c.seconds),
        ).group_by(pairs.c.step)
    ).all()
    found = {
        step: StepDuration(step, int(n), round(float(median), 3), round(float(p95), 3))
        for step, n, median, p95 in rows
    }
    return [found.get(step, StepDuration(step, 0, None, None)) for step in STEPS]


def orders_per_day(*, session: Session, since: datetime) -> list[DayTotals]:
    """Bookings and revenue per day since `since`, every day present (zero days too).

    Grouped in the database: orders by day, currency and status; invoices and credit notes by
    the day they were issued and their currency.
    """
    day = utc_day(session, SalesOrder.created_at)
    rows = session.exec(
        # SQLModel's select() is typed for at most four columns; at runtime it takes any number.
        select(  # type: ignore[call-overload]
            day.label("day"),
            col(SalesOrder.currency),
            col(SalesOrder.status),
            func.count(),
            func.sum(SalesOrder.total),
        )
        .where(SalesOrder.created_at >= since)
        .group_by(day, col(SalesOrder.currency), col(SalesOrder.status))
    ).all()
    days: dict[date, DayTotals] = {}
    current = since.date()
    while current <= utcnow().date():
        days[current] = DayTotals(day=current)
        current += timedelta(days=1)

    def on(value: object) -> DayTotals:
        when = value if isinstance(value, date) else date.fromisoformat(str(value))
        return days.setdefault(when, DayTotals(day=when))

    for placed, currency, status, count, total in rows:
        entry = on(placed)
        if status == OrderStatus.CANCELLED:
            entry.cancelled += int(count)
        elif status == OrderStatus.QUOTE:
            entry.quotes += int(count)
        else:
            entry.orders += int(count)
            _add(entry.bookings, currency, total or 0)
    for document, sign in ((Invoice, 1), (CreditNote, -1)):
        issued = utc_day(session, document.issued_at)
        net = func.sum(document.total - document.tax)
        for when, currency, amount in session.exec(
            select(issued, col(document.currency), net)
            .where(document.issued_at >= since)
            .group_by(issued, col(document.currency))
        ).all():
            _add(on(when).revenue, currency, sign * Decimal(str(amount or 0)))
    return [days[d] for d in sorted(days)]


def sla_breaches(*, session: Session, since: datetime) -> list[SlaBreach]:
    """Per step and role: tasks with a due time, and how many were (or are) late."""
    late = case(
        (
            or_(
                (col(Task.status) == TaskStatus.COMPLETED) & (col(Task.completed_at) > Task.due_at),
                (col(Task.status) == TaskStatus.OPEN) & (col(Task.due_at) < utcnow()),
            ),
            1,
        ),
        else_=0,
    )
    rows = session.exec(
        select(Task.step, Task.role, func.count(), func.sum(late))
        .where(col(Task.due_at).is_not(None))
        .where(Task.created_at >= since)
        .group_by(col(Task.step), col(Task.role))
    ).all()
    found = [
        SlaBreach(step, role, int(breached or 0), int(count))
        for step, role, count, breached in rows
    ]
    order: dict[str, int] = {step: i for i, step in enumerate(STEPS)}
    return sorted(found, key=lambda b: (order.get(b.step, len(STEPS)), b.step, b.role))


def work_per_employee(*, session: Session, since: datetime) -> list[Workload]:
    """Per employee: tasks completed since `since`, open tasks they hold, and how many of both
    are late. Work done with the admin token (or by anyone not an employee) is no one's."""
    now = utcnow()
    completed_late = case(
        (
            col(Task.due_at).is_not(None)
            & col(Task.completed_at).is_not(None)
            & (col(Task.completed_at) > Task.due_at),
            1,
        ),
        else_=0,
    )
    open_late = case((col(Task.due_at).is_not(None) & (col(Task.due_at) < now), 1), else_=0)
    work: dict[str, Workload] = {}
    done = session.exec(
        select(Employee.name, Employee.email, func.count(), func.sum(completed_late))
        .join(Task, col(Task.completed_by) == Employee.email)
        .where(Task.status == TaskStatus.COMPLETED)
        .where(col(Task.completed_at) >= since)
        .group_by(col(Employee.name), col(Employee.email))
    ).all()
    for name, email, count, late in done:
        entry = work.setdefault(email, Workload(who=name, email=email))
        entry.completed += int(count)
        entry.late += int(late or 0)
    holding = session.exec(
        select(Employee.name, Employee.email, func.count(), func.sum(open_late))
        .join(Task, col(Task.assignee_id) == Employee.id)
        .where(Task.status == TaskStatus.OPEN)
        .group_by(col(Employee.name), col(Employee.email))
    ).all()
    for name, email, count, late in holding:
        entry = work.setdefault(email, Workload(who=name, email=email))
        entry.open_now = int(count)
        entry.late += int(late or 0)
    return sorted(work.values(), key=lambda w: (-w.completed, w.who, w.email))


def unfinished_numbers(*, session: Session, limit: int = 40) -> list[str]:
    """Numbers of the newest orders whose workflow is still running (not completed/cancelled)."""
    rows = session.exec(
        select(SalesOrder.number)
        .where(col(SalesOrder.status).not_in([OrderStatus.COMPLETED, OrderStatus.CANCELLED]))
        .where(col(SalesOrder.workflow_started).is_(True))
        .order_by(col(SalesOrder.id).desc())
        .limit(limit)
    ).all()
    return [number for number in rows if number]


@dataclass
class TaskLookups:
    """What an inbox shows beside its tasks, loaded in three queries instead of three per task."""

    orders: dict[str, SalesOrder]
    customers: dict[int, Customer]
    employees: dict[int, Employee]


def task_lookups(*, session: Session, tasks: list[Task]) -> TaskLookups:
    """The orders, customers and assignees of these tasks."""
    numbers = {t.order_number for t in tasks}
    orders = (
        session.exec(select(SalesOrder).where(col(SalesOrder.number).in_(numbers))).all()
        if numbers
        else []
    )
    customer_ids = {o.customer_id for o in orders}
    customers = (
        session.exec(select(Customer).where(col(Customer.id).in_(customer_ids))).all()
        if customer_ids
        else []
    )
    employee_ids = {t.assignee_id for t in tasks if t.assignee_id}
    employees = (
        session.exec(select(Employee).where(col(Employee.id).in_(employee_ids))).all()
        if employee_ids
        else []
    )
    return TaskLookups(
        orders={o.number: o for o in orders if o.number},
        customers={c.id: c for c in customers if c.id},
        employees={e.id: e for e in employees if e.id},
    )
