"""Task activities: create and assign, remind and escalate, record completion, cancel."""

from datetime import timedelta

from sqlalchemy.engine import Engine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.common import load_order
from conveyor.core.db import session_scope
from conveyor.core.models import utcnow
from conveyor.employee.models import Employee
from conveyor.order import service as order_service
from conveyor.task import assignment
from conveyor.task import service as task_service
from conveyor.task.service import TaskConflictError
from workflows.types import (
    CompleteTaskRequest,
    CreateTaskInput,
    EscalateTaskInput,
    EscalateTaskResult,
    OrderRef,
    TaskRef,
)


class TaskActivities:
    """Activities on tasks; built once per worker."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @activity.defn
    def create_task(self, request: CreateTaskInput) -> TaskRef:
        """Create the step's task and assign it by its strategy, atomically and once per key."""
        with session_scope(self.engine) as session:
            order = load_order(session, request.order_number)
            existing = task_service.get_by_key(session=session, key=request.key)
            if existing is not None:  # a retry: report the assignment the first attempt made
                return _ref(session, existing.id, existing.assignee_id)
            due_at = (
                utcnow() + timedelta(seconds=request.sla_seconds) if request.sla_seconds else None
            )
            task = task_service.create(
                session=session,
                key=request.key,
                order_id=order.id,
                order_number=order.number,
                step=request.step,
                role=request.role,
                due_at=due_at,
                assign=request.assign,
                fallback=request.fallback,
            )
            chosen = assignment.assign(session=session, task=task, customer_id=order.customer_id)
            return _ref(session, task.id, chosen.id if chosen else None)

    @activity.defn
    def escalate_task(self, request: EscalateTaskInput) -> EscalateTaskResult:
        """Remind, reassign to someone else on duty, or move the task to a supervisor role."""
        with session_scope(self.engine) as session:
            task = task_service.get(session=session, task_id=request.task_id)
            if task is None:
                raise ApplicationError("task not found", type="InvalidRequest", non_retryable=True)
            if task.status != "open":
                return EscalateTaskResult(
                    task.id, "none", task.assignee_id, None, task.role, f"task is {task.status}"
                )
            message = ""
            if request.action == "remind":
                if task.reminded_at is None:
                    task.reminded_at = utcnow()
                message = "SLA reminder"
            elif task.escalated_at is None and request.action == "reassign":
                order = order_service.get_by_number(session=session, number=task.order_number)
                previous = task.assignee_id
                chosen = assignment.choose_assignee(
                    session=session,
                    role=task.role,
                    strategy=_strategy(task),
                    fallback=task.fallback,
                    customer_id=order.customer_id if order else None,
                    exclude=previous,
                )
                if chosen is not None:
                    task.assignee_id, task.assigned_at = chosen.id, utcnow()
                    message = f"reassigned from {_email(session, previous)} to {chosen.email}"
                else:
                    message = "nobody else of the role is on duty; assignment kept"
                task.escalated_at = utcnow()
            elif task.escalated_at is None and request.action == "escalate":
                role = request.to_role or "supervisor"
                task.role = role
                chosen = assignment.choose_assignee(
                    session=session, role=role, strategy="round_robin"
                )
                task.assignee_id = chosen.id if chosen else None
                task.assigned_at = utcnow() if chosen else None
                task.escalated_at = utcnow()
                message = f"escalated to role {role}" + (f" ({chosen.email})" if chosen else "")
            session.add(task)
            session.flush()
            ref = _ref(session, task.id, task.assignee_id)
            return EscalateTaskResult(
                task_id=task.id,
                action=request.action,
                assignee_id=ref.assignee_id,
                assignee_email=ref.assignee_email,
                role=task.role,
                message=message,
            )

    @activity.defn
    def record_task_completion(self, request: CompleteTaskRequest) -> None:
        """Store the outcome, note and who completed the task."""
        with session_scope(self.engine) as session:
            try:
                task_service.mark_completed(
                    session=session,
                    task_id=request.task_id,
                    outcome=request.outcome,
                    note=request.note,
                    actor=request.actor,
                )
            except TaskConflictError as exc:
                raise ApplicationError(str(exc), type="InvalidRequest", non_retryable=True) from exc

    @activity.defn
    def cancel_open_tasks(self, ref: OrderRef) -> None:
        """Close the order's open tasks (compensation)."""
        with session_scope(self.engine) as session:
            order = load_order(session, ref.order_number)
            task_service.cancel_open_for_order(session=session, order_id=order.id)


def _strategy(task) -> str:  # noqa: ANN001
    # A pool task being reassigned still wants a person: use round-robin among the role.
    return task.assign if task.assign != "pool" else "round_robin"


def _email(session, employee_id: int | None) -> str:  # noqa: ANN001
    employee = session.get(Employee, employee_id) if employee_id else None
    return employee.email if employee else "the pool"


def _ref(session, task_id: int, assignee_id: int | None) -> TaskRef:  # noqa: ANN001
    employee = session.get(Employee, assignee_id) if assignee_id else None
    return TaskRef(
        task_id=task_id,
        assignee_id=assignee_id,
        assignee_email=employee.email if employee else None,
    )
