"""Task operations: create once per key, list an inbox, claim, complete, cancel."""

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, or_, select

from conveyor.core.db import page
from conveyor.core.models import utcnow
from conveyor.employee.models import Employee
from conveyor.task.models import Task, TaskStatus


class TaskConflictError(Exception):
    """The task is not in a state that allows this (already claimed, completed)."""


def get(*, session: Session, task_id: int) -> Task | None:
    """The task with that id, or None."""
    return session.get(Task, task_id)


def get_by_key(*, session: Session, key: str) -> Task | None:
    """The task created under that idempotency key, or None."""
    return session.exec(select(Task).where(Task.key == key)).first()


def create(
    *,
    session: Session,
    key: str,
    order_id: int,
    order_number: str,
    step: str,
    role: str,
    due_at: datetime | None = None,
    assignee_id: int | None = None,
    assign: str = "pool",
    fallback: str = "pool",
) -> Task:
    """Create the task for `key`, or return the one an earlier attempt created."""
    existing = get_by_key(session=session, key=key)
    if existing:
        return existing
    task = Task(
        key=key,
        order_id=order_id,
        order_number=order_number,
        step=step,
        role=role,
        due_at=due_at,
        assignee_id=assignee_id,
        assign=assign,
        fallback=fallback,
    )
    session.add(task)
    session.flush()
    return task


def list_for_order(*, session: Session, order_id: int) -> list[Task]:
    """The order's tasks, oldest first."""
    return list(session.exec(select(Task).where(Task.order_id == order_id).order_by(Task.id)).all())


SORTS = {
    "created": col(Task.id).asc(),
    "-created": col(Task.id).desc(),
    "due": col(Task.due_at).asc(),
    "-due": col(Task.due_at).desc(),
}


def list_inbox(
    *,
    session: Session,
    employee: Employee | None,
    scope: str,
    step: str | None = None,
    status: str | None = None,
    overdue: bool | None = None,
    sort: str = "created",
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Task], int]:
    """An inbox: `mine` (assigned to me), `pool` (unassigned, my roles) or `all` (my roles).

    `employee` None means the admin, who sees every role.
    """
    query = select(Task)
    if scope == "mine":
        query = query.where(Task.assignee_id == (employee.id if employee else -1))
    else:
        if employee is not None:
            query = query.where(col(Task.role).in_(employee.roles or ["-"]))
        if scope == "pool":
            query = query.where(col(Task.assignee_id).is_(None))
    if step:
        query = query.where(Task.step == step)
    if status != "any":
        query = query.where(Task.status == (status or TaskStatus.OPEN))
    if overdue is not None:
        late = col(Task.due_at).is_not(None) & (col(Task.due_at) < utcnow())
        query = query.where(late if overdue else ~late)
    return page(session, query, SORTS[sort], col(Task.id), limit=limit, offset=offset)


def sla_state(task: Task, now: datetime | None = None) -> str | None:
    """`on_time`, `due_soon` (last fifth of the SLA), `overdue`, or None without an SLA."""
    if task.due_at is None or task.status != TaskStatus.OPEN:
        return None
    now = now or utcnow()
    if now >= task.due_at:
        return "overdue"
    if (task.due_at - now) * 5 <= task.due_at - task.created_at:
        return "due_soon"
    return "on_time"


def claim(*, session: Session, task: Task, employee_id: int) -> Task:
    """Take an unassigned open task; exactly one of several concurrent claimers wins."""
    result = session.execute(
        update(Task)
        .where(Task.id == task.id)
        .where(Task.status == TaskStatus.OPEN)
        .where(or_(col(Task.assignee_id).is_(None), Task.assignee_id == employee_id))
        .values(assignee_id=employee_id, assigned_at=utcnow())
    )
    if result.rowcount != 1:
        raise TaskConflictError("task is already claimed or no longer open")
    session.flush()
    session.refresh(task)
    return task


def unclaim(*, session: Session, task: Task, employee_id: int) -> Task:
    """Give a task I hold back to the pool."""
    result = session.execute(
        update(Task)
        .where(Task.id == task.id)
        .where(Task.status == TaskStatus.OPEN)
        .where(Task.assignee_id == employee_id)
        .values(assignee_id=None, assigned_at=None)
    )
    if result.rowcount != 1:
        raise TaskConflictError("task is not yours or no longer open")
    session.flush()
    session.refresh(task)
    return task


def reassign(*, session: Session, task: Task, employee: Employee | None) -> Task:
    """Give an open task to `employee` (who must hold its role), or to the pool with None."""
    if task.status != TaskStatus.OPEN:
        raise TaskConflictError(f"task {task.id} is {task.status}")
    if employee is not None and not employee.has_role(task.role):
        raise TaskConflictError(f"{employee.email} does not hold the {task.role} role")
    task.assignee_id = employee.id if employee else None
    task.assigned_at = utcnow() if employee else None
    session.add(task)
    session.flush()
    return task


def mark_completed(
    *, session: Session, task_id: int, outcome: str, note: str | None, actor: str
) -> Task:
    """Record the task's outcome (idempotent: a completed task stays as first completed)."""
    task = session.get(Task, task_id)
    if task is None:
        raise TaskConflictError(f"task {task_id} does not exist")
    if task.status == TaskStatus.OPEN:
        task.status = TaskStatus.COMPLETED
        task.outcome = outcome
        task.note = note
        task.completed_at = utcnow()
        task.completed_by = actor
        session.add(task)
        session.flush()
    return task


def cancel_open_for_order(*, session: Session, order_id: int) -> int:
    """Cancel the order's open tasks; returns how many."""
    result = session.execute(
        update(Task)
        .where(Task.order_id == order_id)
        .where(Task.status == TaskStatus.OPEN)
        .values(status=TaskStatus.CANCELLED)
    )
    return result.rowcount
