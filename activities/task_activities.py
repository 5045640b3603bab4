"""Task activities: create and assign, remind and escalate, record completion, cancel."""

from datetime import timedelta

from sqlalchemy.engine import Engine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.common import load_order
from conveyor.core.db import session_scope
from conveyor.core.models import row_id
from conveyor.employee.models import Employee
from conveyor.task import escalation
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
            task = task_service.create_assigned(
                session=session,
                key=request.key,
                order=order,
                step=request.step,
                role=request.role,
                due_in=timedelta(seconds=request.sla_seconds) if request.sla_seconds else None,
                assign=request.assign,
                fallback=request.fallback,
            )
            employee = session.get(Employee, task.assignee_id) if task.assignee_id else None
            return TaskRef(
                task_id=row_id(task),
                assignee_id=task.assignee_id,
                assignee_email=employee.email if employee else None,
            )

    @activity.defn
    def escalate_task(self, request: EscalateTaskInput) -> EscalateTaskResult:
        """Remind, reassign to someone else on duty, or move the task to a supervisor role."""
        with session_scope(self.engine) as session:
            done = escalation.escalate(
                session=session,
                task_id=request.task_id,
                action=request.action,
                to_role=request.to_role,
            )
            if done is None:
                raise ApplicationError("task not found", type="InvalidRequest", non_retryable=True)
            return EscalateTaskResult(
                task_id=done.task_id,
                action=done.action,
                assignee_id=done.assignee_id,
                assignee_email=done.assignee_email,
                role=done.role,
                message=done.message,
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
            task_service.cancel_open_for_order(session=session, order_id=row_id(order))
