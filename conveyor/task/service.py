"""Task operations: create once per key, list an inbox, claim, complete, cancel; who may."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, update
from sqlmodel import Session, col, or_, select
from sqlmodel.sql.expression import SelectOfScalar

from conveyor.audit.service import Actor, record, snapshot
from conveyor.core import keyset
from conveyor.core.errors import Conflict, Forbidden, Invalid, NotFound
from conveyor.core.keyset import KeysetOrder, Page, Segment
from conveyor.core.models import utcnow
from conveyor.employee.models import SUPERVISOR_ROLE, Caller, Employee
from conveyor.order.models import SalesOrder
from conveyor.task import assignment
from conveyor.task.models import Task, TaskStatus

# What the audit log keeps of a task before and after a change.
TASK_FIELDS = ("status", "assignee_id", "role", "order_number", "outcome", "completed_by")


def audit_assignment(
    *,
    session: Session,
    task: Task,
    actor: Actor,
    action: str,
    before_assignee: int | None,
    reason: str | None = None,
) -> None:
    """The audit entry of a task that changed hands (claim, unclaim, reassign, hand-over)."""
    after: dict[str, object] = {"assignee_id": task.assignee_id, "order_number": task.order_number}
    if reason:
        after["reason"] = reason
    record(
        session,
        actor=actor,
        action=action,
        entity="task",
        entity_id=task.id,
        before={"assignee_id": before_assignee},
        after=after,
    )


class TaskConflictError(Conflict):
    """The task is not in a state that allows this (already claimed, completed)."""


class NoTaskHolder(Invalid):
    """The caller (the admin token) is nobody who can hold a task."""

    status = 400


def get(*, session: Session, task_id: int) -> Task | None:
    """The task with that id, or None."""
    return session.get(Task, task_id)


def get_for(*, session: Session, task_id: int, caller: Caller) -> Task:
    """The task, when `caller` holds its role; NotFound or Forbidden otherwise."""
    task = get(session=session, task_id=task_id)
    if task is None:
        raise NotFound(f"task {task_id} not found")
    if not caller.has_role(task.role):
        raise Forbidden(f"task {task_id} needs the {task.role} role")
    return task


def holder_id(caller: Caller) -> int:
    """The employee id of a caller who can hold tasks (the admin token cannot)."""
    if caller.employee_id is None:
        raise NoTaskHolder("the admin token holds no tasks")
    return caller.employee_id


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


def create_about(
    *,
    session: Session,
    key: str,
    subject: str,
    details: str,
    step: str,
    role: str,
    due_in: timedelta | None = None,
) -> Task:
    """A task about something other than an order (`subject`, like a supplier invoice's
    number), in the role's pool, once per key."""
    existing = get_by_key(session=session, key=key)
    if existing is not None:
        return existing
    task = Task(
        key=key,
        subject=subject,
        details=details[:2000],
        step=step,
        role=role,
        due_at=utcnow() + due_in if due_in else None,
    )
    session.add(task)
    session.flush()
    return task


def create_assigned(
    *,
    session: Session,
    key: str,
    order: SalesOrder,
    step: str,
    role: str,
    due_in: timedelta | None = None,
    assign: str = "pool",
    fallback: str = "pool",
) -> Task:
    """Create the step's task due in `due_in` and assign it by its strategy, once per key.

    A retry gets the task as the first attempt assigned it: nobody is chosen a second time.
    """
    existing = get_by_key(session=session, key=key)
    if existing is not None:
        return existing
    task = create(
        session=session,
        key=key,
        order_id=order.id or 0,
        order_number=order.number or "",
        step=step,
        role=role,
        due_at=utcnow() + due_in if due_in else None,
        assign=assign,
        fallback=fallback,
    )
    assignment.assign(session=session, task=task, customer_id=order.customer_id)
    return task


def list_for_order(*, session: Session, order_id: int) -> list[Task]:
    """The order's tasks, oldest first."""
    return list(
        session.exec(select(Task).where(Task.order_id == order_id).order_by(col(Task.id))).all()
    )


def _due_orders() -> dict[str, KeysetOrder]:
    task_id, due = col(Task.id), col(Task.due_at)
    has_due = Segment((due, task_id), where=due.is_not(None), holds=lambda t: t.due_at is not None)
    no_due = Segment((task_id,), where=due.is_(None), holds=lambda t: t.due_at is None)
    has_due_desc = Segment(
        has_due.columns, descending=True, where=has_due.where, holds=has_due.holds
    )
    no_due_desc = Segment(no_due.columns, descending=True, where=no_due.where, holds=no_due.holds)
    return {
        "created": KeysetOrder("created", (Segment((task_id,)),)),
        "-created": KeysetOrder("-created", (Segment((task_id,), descending=True),)),
        # Tasks without a due time come after the others (and first in reverse), on both
        # databases; ties on the due time go by id, so a page boundary never splits them.
        "due": KeysetOrder(
            "due", (has_due, no_due), order_by=(due.asc().nulls_last(), task_id.asc())
        ),
        "-due": KeysetOrder(
            "-due",
            (no_due_desc, has_due_desc),
            order_by=(due.desc().nulls_first(), task_id.desc()),
        ),
    }


SORTS = _due_orders()


def inbox_query(
    *,
    employee: Employee | None,
    scope: str,
    step: str | None = None,
    status: str | None = None,
    overdue: bool | None = None,
) -> SelectOfScalar[Task]:
    """The tasks of an inbox: `mine` (assigned to me), `pool` (unassigned, my roles),
    `pool_and_mine` (the pool and what I hold: what I claim from the pool stays in view) or
    `all` (my roles). `employee` None means the admin, who sees every role."""
    query = select(Task)
    me = employee.id if employee else -1
    if scope == "mine":
        query = query.where(Task.assignee_id == me)
    else:
        if employee is not None:
            query = query.where(col(Task.role).in_(employee.roles or ["-"]))
        if scope == "pool":
            query = query.where(col(Task.assignee_id).is_(None))
        elif scope == "pool_and_mine":
            query = query.where(or_(col(Task.assignee_id).is_(None), Task.assignee_id == me))
    if step:
        query = query.where(Task.step == step)
    if status != "any":
        query = query.where(Task.status == (status or TaskStatus.OPEN))
    if overdue is not None:
        late = col(Task.due_at).is_not(None) & (col(Task.due_at) < utcnow())
        query = query.where(late if overdue else ~late)
    return query


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
    after: str | None = None,
) -> Page[Task]:
    """An inbox (`inbox_query`), one page: after the cursor `after` (keyset: as fast on page
    5,000 as on page 1), else at `offset`; the count stops at COUNT_CAP."""
    query = inbox_query(employee=employee, scope=scope, step=step, status=status, overdue=overdue)
    return keyset.page(session, query, SORTS[sort], limit=limit, after=after, offset=offset)


def sla_state(task: Task | Row[Any], now: datetime | None = None) -> str | None:
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
    result = session.exec(
        update(Task)
        .where(col(Task.id) == task.id)
        .where(col(Task.status) == TaskStatus.OPEN)
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
    result = session.exec(
        update(Task)
        .where(col(Task.id) == task.id)
        .where(col(Task.status) == TaskStatus.OPEN)
        .where(col(Task.assignee_id) == employee_id)
        .values(assignee_id=None, assigned_at=None)
    )
    if result.rowcount != 1:
        raise TaskConflictError("task is not yours or no longer open")
    session.flush()
    session.refresh(task)
    return task


def claim_for(*, session: Session, task_id: int, caller: Caller, actor: Actor) -> Task:
    """`caller` takes the pool task (they must hold its role)."""
    employee_id = holder_id(caller)
    task = get_for(session=session, task_id=task_id, caller=caller)
    before = task.assignee_id
    claim(session=session, task=task, employee_id=employee_id)
    audit_assignment(
        session=session, task=task, actor=actor, action="task.claim", before_assignee=before
    )
    return task


def unclaim_for(*, session: Session, task_id: int, caller: Caller, actor: Actor) -> Task:
    """`caller` gives a task they hold back to the pool."""
    employee_id = holder_id(caller)
    task = get_for(session=session, task_id=task_id, caller=caller)
    before = task.assignee_id
    unclaim(session=session, task=task, employee_id=employee_id)
    audit_assignment(
        session=session, task=task, actor=actor, action="task.unclaim", before_assignee=before
    )
    return task


def get_completable(*, session: Session, task_id: int, caller: Caller) -> Task:
    """The open task `caller` may complete: theirs, the pool's, or anyone's for a supervisor."""
    task = get_for(session=session, task_id=task_id, caller=caller)
    if task.status != TaskStatus.OPEN:
        raise TaskConflictError(f"task {task_id} is already {task.status}")
    if task.assignee_id not in (None, caller.employee_id) and not caller.has_role(SUPERVISOR_ROLE):
        raise TaskConflictError(f"task {task_id} is assigned to someone else")
    return task


def reassign_to(
    *,
    session: Session,
    task_id: int,
    employee_id: int | None,
    actor: Actor,
    reason: str | None = None,
) -> Task:
    """Give the task to the active employee `employee_id` (who must hold its role), or the pool;
    `reason` (why it was taken away from its holder) goes into the audit entry."""
    task = get(session=session, task_id=task_id)
    if task is None:
        raise NotFound(f"task {task_id} not found")
    employee = None
    if employee_id is not None:
        employee = session.get(Employee, employee_id)
        if employee is None or not employee.active:
            raise Invalid(f"no active employee {employee_id}")
    before = task.assignee_id
    reassign(session=session, task=task, employee=employee)
    audit_assignment(
        session=session,
        task=task,
        actor=actor,
        action="task.reassign",
        before_assignee=before,
        reason=reason,
    )
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
        before = snapshot(task, TASK_FIELDS)
        task.status = TaskStatus.COMPLETED
        task.outcome = outcome
        task.note = note
        task.completed_at = utcnow()
        task.completed_by = actor
        session.add(task)
        session.flush()
        # Completed through the order's workflow, for the person named in the update.
        record(
            session,
            actor=Actor.on_behalf(actor),
            action="task.complete",
            entity="task",
            entity_id=task.id,
            before=before,
            after=snapshot(task, TASK_FIELDS),
        )
    return task


def open_for_step(*, session: Session, order_id: int, step: str) -> Task | None:
    """The order's open task of a step, if it has one."""
    return session.exec(
        select(Task)
        .where(col(Task.order_id) == order_id)
        .where(col(Task.step) == step)
        .where(col(Task.status) == TaskStatus.OPEN)
    ).first()


def cancel_open_for_order(*, session: Session, order_id: int) -> int:
    """Cancel the order's open tasks; returns how many."""
    result = session.exec(
        update(Task)
        .where(col(Task.order_id) == order_id)
        .where(col(Task.status) == TaskStatus.OPEN)
        .values(status=TaskStatus.CANCELLED)
    )
    return result.rowcount
