"""Who gets a task: round_robin, least_loaded, owner, same_as (an earlier step's doer) or pool,
fair across processes.

The round-robin cursor lives in the database and moves in the same transaction that assigns the
task. On PostgreSQL the cursor row is locked (`SELECT ... FOR UPDATE`); on SQLite every write
transaction is `BEGIN IMMEDIATE`, which already serialises writers. So any number of workers and
API processes together hand out tasks evenly: after N assignments over k people, max - min <= 1.
"""

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from conveyor.core.models import utcnow
from conveyor.customer.models import Customer
from conveyor.employee.models import Employee
from conveyor.task.models import AssignmentCursor, Task, TaskStatus
from routing_rules.models import same_as

STRATEGIES = ("round_robin", "least_loaded", "owner", "pool")  # and same_as (`same:<step>`)


def on_duty_with_role(*, session: Session, role: str, exclude: int | None = None) -> list[Employee]:
    """Active, clocked-in employees holding `role`, in a stable order (by id)."""
    rows = session.exec(
        select(Employee)
        .where(col(Employee.active).is_(True))
        .where(col(Employee.on_duty).is_(True))
        .order_by(col(Employee.id))
    ).all()
    return [e for e in rows if role in e.roles and e.id != exclude]


def _lock_cursor(session: Session, role: str) -> AssignmentCursor:
    # SQLModel's class stubs do not declare the `__table__` every table model has.
    table = AssignmentCursor.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(table).values(role=role, last_employee_id=0).on_conflict_do_nothing())
    query = select(AssignmentCursor).where(AssignmentCursor.role == role)
    if dialect == "postgresql":
        query = query.with_for_update()
    cursor = session.exec(query.execution_options(populate_existing=True)).one()
    return cursor


def _next_after(candidates: list[Employee], last_id: int) -> Employee:
    for employee in candidates:
        if employee.id is not None and employee.id > last_id:
            return employee
    return candidates[0]


def _round_robin(session: Session, role: str, candidates: list[Employee]) -> Employee:
    cursor = _lock_cursor(session, role)
    chosen = _next_after(candidates, cursor.last_employee_id)
    cursor.last_employee_id = chosen.id or 0
    session.add(cursor)
    return chosen


def _least_loaded(session: Session, role: str, candidates: list[Employee]) -> Employee:
    cursor = _lock_cursor(session, role)
    ids = [c.id for c in candidates]
    loads = dict(
        session.exec(
            select(Task.assignee_id, func.count())
            .where(col(Task.assignee_id).in_(ids))
            .where(Task.status == TaskStatus.OPEN)
            .group_by(col(Task.assignee_id))
        ).all()
    )
    fewest = min(loads.get(c.id, 0) for c in candidates)
    tied = [c for c in candidates if loads.get(c.id, 0) == fewest]
    chosen = _next_after(tied, cursor.last_employee_id)
    cursor.last_employee_id = chosen.id or 0
    session.add(cursor)
    return chosen


def doer_of(*, session: Session, order_id: int, step: str) -> Employee | None:
    """The employee who completed the order's last completed task of `step`, if any."""
    done_by = session.exec(
        select(Task.completed_by)
        .where(Task.order_id == order_id)
        .where(Task.step == step)
        .where(Task.status == TaskStatus.COMPLETED)
        .order_by(col(Task.id).desc())
    ).first()
    if not done_by:
        return None
    return session.exec(select(Employee).where(Employee.email == done_by)).first()


def choose_assignee(
    *,
    session: Session,
    role: str,
    strategy: str,
    fallback: str = "pool",
    customer_id: int | None = None,
    order_id: int | None = None,
    exclude: int | None = None,
) -> Employee | None:
    """The employee who should get a task of `role`, or None for the pool. `same:<step>` is
    whoever completed that step of order `order_id`, when active, on duty and of the role."""
    earlier = same_as(strategy)
    if earlier is not None:
        doer = doer_of(session=session, order_id=order_id, step=earlier) if order_id else None
        if (
            doer is not None
            and doer.active
            and doer.on_duty
            and doer.has_role(role)
            and doer.id != exclude
        ):
            return doer
        strategy = fallback
    if strategy == "owner":
        customer = session.get(Customer, customer_id) if customer_id else None
        rep = (
            session.get(Employee, customer.account_rep_id)
            if customer and customer.account_rep_id
            else None
        )
        if rep is not None and rep.active and rep.id != exclude:
            return rep
        strategy = fallback
    if strategy not in ("round_robin", "least_loaded"):
        return None
    candidates = on_duty_with_role(session=session, role=role, exclude=exclude)
    if not candidates:
        return None
    if strategy == "round_robin":
        return _round_robin(session, role, candidates)
    return _least_loaded(session, role, candidates)


def assign(
    *, session: Session, task: Task, customer_id: int | None = None, exclude: int | None = None
) -> Employee | None:
    """Assign `task` by its own strategy; leaves it in the pool when nobody fits."""
    chosen = choose_assignee(
        session=session,
        role=task.role,
        strategy=task.assign,
        fallback=task.fallback,
        customer_id=customer_id,
        order_id=task.order_id,
        exclude=exclude,
    )
    task.assignee_id = chosen.id if chosen else None
    task.assigned_at = utcnow() if chosen else None
    session.add(task)
    session.flush()
    return chosen


def waiting_in_pool(*, session: Session, roles: list[str]) -> list[Task]:
    """Open, unassigned tasks of these roles whose strategy wants an assignee, oldest first."""
    return list(
        session.exec(
            select(Task)
            .where(Task.status == TaskStatus.OPEN)
            .where(col(Task.assignee_id).is_(None))
            .where(col(Task.role).in_(roles or ["-"]))
            .where(Task.assign != "pool")
            .order_by(col(Task.id))
        ).all()
    )


def open_tasks_of(*, session: Session, employee_id: int) -> list[Task]:
    """Open tasks assigned to the employee, oldest first."""
    return list(
        session.exec(
            select(Task)
            .where(Task.status == TaskStatus.OPEN)
            .where(Task.assignee_id == employee_id)
            .order_by(col(Task.id))
        ).all()
    )
