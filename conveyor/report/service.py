"""Read models for the monitor and reports, computed from orders, events and tasks.

Grouping by day and percentiles happen in Python, so the same code runs on SQLite and
PostgreSQL; every query is bounded by a period or a limit.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, col, or_, select

from conveyor.core.db import contains_text
from conveyor.core.models import utcnow
from conveyor.customer.models import Customer
from conveyor.employee.models import Employee
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
    """Orders placed on one day and their value per currency (cancelled orders left out)."""

    day: date
    orders: int = 0
    cancelled: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class Workload:
    """One person's work over a period."""

    who: str
    completed: int = 0
    open_now: int = 0
    late: int = 0


@dataclass
class SlaBreach:
    """Tasks of one step and role that missed (or are missing) their due time."""

    step: str
    role: str
    breached: int
    with_sla: int


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) by the nearest-rank method; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def counts_by_step_and_status(*, session: Session) -> dict[tuple[str | None, str], int]:
    """How many orders sit at each (current step, status)."""
    rows = session.exec(
        select(SalesOrder.current_step, SalesOrder.status, func.count()).group_by(
            SalesOrder.current_step, SalesOrder.status
        )
    ).all()
    return {(step, status): count for step, status, count in rows}


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


def step_durations(*, session: Session, since: datetime) -> list[StepDuration]:
    """Median and p95 time from `step_started` to `step_completed`, per step, since `since`."""
    rows = session.exec(
        select(OrderEvent.order_id, OrderEvent.step, OrderEvent.kind, OrderEvent.at)
        .where(col(OrderEvent.kind).in_(["step_started", "step_completed"]))
        .where(OrderEvent.at >= since)
        .order_by(col(OrderEvent.id))
    ).all()
    started: dict[tuple[int, str], datetime] = {}
    samples: dict[str, list[float]] = defaultdict(list)
    for order_id, step, kind, at in rows:
        if step is None:
            continue
        if kind == "step_started":
            started[(order_id, step)] = at
        elif (order_id, step) in started:
            samples[step].append((at - started.pop((order_id, step))).total_seconds())
    return [
        StepDuration(
            step=step,
            count=len(samples[step]),
            median=percentile(samples[step], 50),
            p95=percentile(samples[step], 95),
        )
        for step in STEPS
    ]


def orders_per_day(*, session: Session, since: datetime) -> list[DayTotals]:
    """Orders and revenue per day since `since`, every day present (zero days too)."""
    rows = session.exec(
        select(
            col(SalesOrder.created_at),
            col(SalesOrder.status),
            col(SalesOrder.currency),
            col(SalesOrder.total),
        )
        .where(SalesOrder.created_at >= since)
        .order_by(col(SalesOrder.created_at))
    ).all()
    days: dict[date, DayTotals] = {}
    day = since.date()
    while day <= utcnow().date():
        days[day] = DayTotals(day=day)
        day += timedelta(days=1)
    for created_at, status, currency, total in rows:
        entry = days.setdefault(created_at.date(), DayTotals(day=created_at.date()))
        if status == OrderStatus.CANCELLED:
            entry.cancelled += 1
            continue
        entry.orders += 1
        entry.revenue[currency] = entry.revenue.get(currency, Decimal("0.00")) + total
    return [days[d] for d in sorted(days)]


def sla_breaches(*, session: Session, since: datetime) -> list[SlaBreach]:
    """Per step and role: tasks with a due time, and how many were (or are) late."""
    now = utcnow()
    rows = session.exec(
        # SQLModel's select() is typed for at most four columns; at runtime it takes any number.
        select(  # type: ignore[call-overload]
            Task.step, Task.role, Task.status, Task.due_at, Task.completed_at
        )
        .where(col(Task.due_at).is_not(None))
        .where(Task.created_at >= since)
    ).all()
    groups: dict[tuple[str, str], SlaBreach] = {}
    for step, role, status, due_at, completed_at in rows:
        entry = groups.setdefault((step, role), SlaBreach(step, role, 0, 0))
        entry.with_sla += 1
        finished = completed_at if status == TaskStatus.COMPLETED else None
        if (finished and finished > due_at) or (status == TaskStatus.OPEN and now > due_at):
            entry.breached += 1
    return sorted(groups.values(), key=lambda b: (STEPS.index(b.step), b.role))


def work_per_employee(*, session: Session, since: datetime) -> list[Workload]:
    """Tasks completed since `since` (by who completed them) and open tasks each person holds."""
    work: dict[str, Workload] = {}
    done = session.exec(
        select(Task.completed_by, Task.completed_at, Task.due_at)
        .where(Task.status == TaskStatus.COMPLETED)
        .where(col(Task.completed_at) >= since)
    ).all()
    for who, completed_at, due_at in done:
        entry = work.setdefault(who or "unknown", Workload(who=who or "unknown"))
        entry.completed += 1
        if due_at is not None and completed_at is not None and completed_at > due_at:
            entry.late += 1
    holding = session.exec(
        select(Employee.email, func.count())
        .join(Task, col(Task.assignee_id) == Employee.id)
        .where(Task.status == TaskStatus.OPEN)
        .group_by(Employee.email)
    ).all()
    for email, count in holding:
        work.setdefault(email, Workload(who=email)).open_now = count
    return sorted(work.values(), key=lambda w: (-w.completed, w.who))


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
