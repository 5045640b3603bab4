"""SLA escalation of an open task: remind, reassign to someone else on duty, or move it up a role.

The workflow decides when (from the step's escalation rule); this decides what happens. A
reminder is stamped once and may be sent again; reassigning or escalating happens once per task.
"""

from dataclasses import dataclass

from sqlmodel import Session

from conveyor.core.models import row_id, utcnow
from conveyor.employee.models import SUPERVISOR_ROLE, Employee
from conveyor.order import service as order_service
from conveyor.task import assignment
from conveyor.task import service as task_service
from conveyor.task.models import Task, TaskStatus


@dataclass(frozen=True)
class Escalation:
    """What escalating decided: the action (`none` for a closed task), the task's holder, why."""

    task_id: int
    action: str
    assignee_id: int | None
    assignee_email: str | None
    role: str
    message: str


def escalate(
    *, session: Session, task_id: int, action: str, to_role: str | None = None
) -> Escalation | None:
    """Apply `action` (remind | reassign | escalate) to an open task; None for an unknown task."""
    task = task_service.get(session=session, task_id=task_id)
    if task is None:
        return None
    if task.status != TaskStatus.OPEN:
        return Escalation(
            row_id(task), "none", task.assignee_id, None, task.role, f"task is {task.status}"
        )
    # Each happens once per task: a repeated timer (after a continue-as-new, or for a record
    # whose reminder was already given) changes and mails nothing.
    done_before = task.reminded_at if action == "remind" else task.escalated_at
    if done_before is not None:
        return Escalation(
            row_id(task), "none", task.assignee_id, None, task.role, f"{action} done already"
        )
    message = ""
    if action == "remind":
        task.reminded_at = utcnow()
        message = "SLA reminder"
    elif action == "reassign":
        message = _reassign(session, task)
    elif action == "escalate":
        message = _escalate(session, task, to_role or SUPERVISOR_ROLE)  # the rule named none
    session.add(task)
    session.flush()
    return Escalation(
        task_id=row_id(task),
        action=action,
        assignee_id=task.assignee_id,
        assignee_email=_email(session, task.assignee_id),
        role=task.role,
        message=message,
    )


def _reassign(session: Session, task: Task) -> str:
    """Give the task to someone else of its role on duty, or keep it when there is nobody."""
    order = (
        order_service.get_by_number(session=session, number=task.order_number)
        if task.order_number
        else None
    )
    previous = task.assignee_id
    chosen = assignment.choose_assignee(
        session=session,
        role=task.role,
        # A pool task being reassigned still wants a person: round-robin among the role.
        strategy=task.assign if task.assign != "pool" else "round_robin",
        fallback=task.fallback,
        customer_id=order.customer_id if order else None,
        order_id=task.order_id,
        exclude=previous,
    )
    if chosen is not None:
        task.assignee_id, task.assigned_at = chosen.id, utcnow()
        message = f"reassigned from {_email(session, previous) or 'the pool'} to {chosen.email}"
    else:
        message = "nobody else of the role is on duty; assignment kept"
    task.escalated_at = utcnow()
    return message


def _escalate(session: Session, task: Task, role: str) -> str:
    """Move the task to `role` and give it to the next of that role on duty (or its pool)."""
    task.role = role
    chosen = assignment.choose_assignee(session=session, role=role, strategy="round_robin")
    task.assignee_id = chosen.id if chosen else None
    task.assigned_at = utcnow() if chosen else None
    task.escalated_at = utcnow()
    return f"escalated to role {role}" + (f" ({chosen.email})" if chosen else "")


def _email(session: Session, employee_id: int | None) -> str | None:
    employee = session.get(Employee, employee_id) if employee_id else None
    return employee.email if employee else None
