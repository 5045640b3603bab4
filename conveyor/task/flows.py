"""Task flows: assignment changes made by people (clock in/out, reassign) reach the workflows.

The database change commits first; then each affected order's workflow gets a `task_assigned`
signal so it can notify the new assignee. A lost signal loses only that e-mail, never the task.
"""

import logging

from conveyor.core.state import AppState, in_session
from conveyor.core.temporal import order_workflow_id
from conveyor.employee import service as employee_service
from conveyor.employee.models import Employee
from conveyor.task import assignment
from conveyor.task.models import Task
from workflows.sales_order import SalesOrderWorkflow
from workflows.types import TaskAssigned

log = logging.getLogger(__name__)


def _assigned(session, task: Task, reason: str) -> tuple[str, TaskAssigned]:  # noqa: ANN001
    employee = session.get(Employee, task.assignee_id) if task.assignee_id else None
    return task.order_number, TaskAssigned(
        task_id=task.id or 0,
        assignee_id=task.assignee_id,
        assignee_email=employee.email if employee else None,
        reason=reason,
    )


async def clock_in(state: AppState, *, employee_id: int) -> Employee:
    """Clock in, then hand the waiting pool tasks of the employee's roles out by their strategy."""

    def work(session) -> tuple[Employee, list[tuple[str, TaskAssigned]]]:  # noqa: ANN001
        employee = employee_service.get(session=session, employee_id=employee_id)
        assert employee is not None
        was_on_duty = employee.on_duty
        employee_service.clock_in(session=session, employee=employee)
        changes = []
        if not was_on_duty:
            for task in assignment.waiting_in_pool(session=session, roles=employee.roles):
                if assignment.assign(session=session, task=task) is not None:
                    changes.append(_assigned(session, task, "assigned at clock-in"))
        return employee, changes

    employee, changes = await in_session(state, work)
    await _notify(state, changes)
    return employee


async def clock_out(state: AppState, *, employee_id: int) -> Employee:
    """Clock out, then give the employee's open tasks to someone else on duty (or the pool)."""

    def work(session) -> tuple[Employee, list[tuple[str, TaskAssigned]]]:  # noqa: ANN001
        employee = employee_service.get(session=session, employee_id=employee_id)
        assert employee is not None
        employee_service.clock_out(session=session, employee=employee)
        changes = []
        for task in assignment.open_tasks_of(session=session, employee_id=employee_id):
            assignment.assign(session=session, task=task, exclude=employee_id)
            changes.append(_assigned(session, task, f"{employee.email} clocked out"))
        return employee, changes

    employee, changes = await in_session(state, work)
    await _notify(state, changes)
    return employee


async def announce(state: AppState, *, task: Task, reason: str) -> None:
    """Tell the order's workflow that a task changed hands."""
    changes = await in_session(state, lambda session: [_assigned(session, task, reason)])
    await _notify(state, changes)


async def _notify(state: AppState, changes: list[tuple[str, TaskAssigned]]) -> None:
    if not changes:
        return
    client = await state.temporal()
    for order_number, change in changes:
        try:
            await client.get_workflow_handle(order_workflow_id(order_number)).signal(
                SalesOrderWorkflow.task_assigned, change
            )
        except Exception:  # noqa: BLE001 - the task is assigned; only the e-mail is at stake
            log.warning("could not tell %s about task %s", order_number, change.task_id)
