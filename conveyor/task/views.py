"""Task inbox endpoints: list, claim, unclaim, reassign, complete."""

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from sqlmodel import Session

from api.deps import CurrentPrincipal, Principal, ReadSessionDep, StateDep
from conveyor.core.state import in_session
from conveyor.employee import service as employee_service
from conveyor.employee.models import SUPERVISOR_ROLE
from conveyor.order import flows as order_flows
from conveyor.order.enums import Step
from conveyor.task import flows as task_flows
from conveyor.task import service as task_service
from conveyor.task.models import (
    Task,
    TaskComplete,
    TaskPublic,
    TaskReassign,
    TasksPublic,
    TaskStatus,
)
from workflows.types import CompleteTaskRequest

router = APIRouter()


def task_public(task: Task) -> TaskPublic:
    """The API view of a task, with its SLA state."""
    return TaskPublic.model_validate(task, update={"sla_state": task_service.sla_state(task)})


def _load_for(session: Session, task_id: int, principal: Principal) -> Task:
    task = task_service.get(session=session, task_id=task_id)
    if task is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"task {task_id} not found")
    if not principal.has_role(task.role):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"task {task_id} needs the {task.role} role")
    return task


def _employee_id(principal: Principal) -> int:
    if principal.employee_id is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the admin token holds no tasks")
    return principal.employee_id


@router.get("", response_model=TasksPublic)
def list_tasks(
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    scope: Literal["mine", "pool", "all"] = "all",
    step: Step | None = None,
    status_: Annotated[
        Literal["open", "completed", "cancelled", "any"], Query(alias="status")
    ] = "open",
    overdue: bool | None = None,
    sort: Literal["created", "-created", "due", "-due"] = "created",
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 100,
) -> TasksPublic:
    """The caller's inbox: `mine`, their roles' `pool`, or `all` of their roles' tasks."""
    rows, count = task_service.list_inbox(
        session=session,
        employee=None if principal.is_admin else principal.employee,
        scope=scope,
        step=step,
        status=status_,
        overdue=overdue,
        sort=sort,
        limit=page_size,
        offset=(page - 1) * page_size,
    )
    return TasksPublic(data=[task_public(t) for t in rows], count=count)


@router.get("/{task_id}", response_model=TaskPublic)
def read_task(task_id: int, session: ReadSessionDep, principal: CurrentPrincipal) -> TaskPublic:
    """One task."""
    return task_public(_load_for(session, task_id, principal))


@router.post("/{task_id}/claim", response_model=TaskPublic)
async def claim_task(task_id: int, state: StateDep, principal: CurrentPrincipal) -> TaskPublic:
    """Take a pool task; 409 when someone else was first."""
    employee_id = _employee_id(principal)

    def work(session: Session) -> Task:
        task = _load_for(session, task_id, principal)
        return task_service.claim(session=session, task=task, employee_id=employee_id)

    try:
        task = await in_session(state, work)
    except task_service.TaskConflictError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    await task_flows.announce(state, task=task, reason="claimed")
    return task_public(task)


@router.post("/{task_id}/unclaim", response_model=TaskPublic)
async def unclaim_task(task_id: int, state: StateDep, principal: CurrentPrincipal) -> TaskPublic:
    """Give a task you hold back to the pool."""
    employee_id = _employee_id(principal)

    def work(session: Session) -> Task:
        task = _load_for(session, task_id, principal)
        return task_service.unclaim(session=session, task=task, employee_id=employee_id)

    try:
        return task_public(await in_session(state, work))
    except task_service.TaskConflictError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


@router.post("/{task_id}/reassign", response_model=TaskPublic)
async def reassign_task(
    task_id: int, body: TaskReassign, state: StateDep, principal: CurrentPrincipal
) -> TaskPublic:
    """Give the task to another employee of its role, or back to the pool (supervisors)."""
    if not principal.has_role(SUPERVISOR_ROLE):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "reassigning needs the supervisor role")

    def work(session: Session) -> Task:
        task = task_service.get(session=session, task_id=task_id)
        if task is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"task {task_id} not found")
        employee = None
        if body.employee_id is not None:
            employee = employee_service.get(session=session, employee_id=body.employee_id)
            if employee is None or not employee.active:
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT, f"no active employee {body.employee_id}"
                )
        return task_service.reassign(session=session, task=task, employee=employee)

    try:
        task = await in_session(state, work)
    except task_service.TaskConflictError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    await task_flows.announce(state, task=task, reason=f"reassigned by {principal.name}")
    return task_public(task)


@router.post("/{task_id}/complete", response_model=TaskPublic)
async def complete_task(
    task_id: int, body: TaskComplete, state: StateDep, principal: CurrentPrincipal
) -> TaskPublic:
    """Complete with an outcome (`done`, `approved`, `rejected`) and a note; the order resumes."""
    task = await in_session(
        state, lambda session: _load_for(session, task_id, principal), read_only=True
    )
    if task.status != TaskStatus.OPEN:
        raise HTTPException(status.HTTP_409_CONFLICT, f"task {task_id} is already {task.status}")
    if task.assignee_id not in (None, principal.employee_id) and not principal.has_role(
        SUPERVISOR_ROLE
    ):
        raise HTTPException(status.HTTP_409_CONFLICT, f"task {task_id} is assigned to someone else")
    try:
        await order_flows.complete_task(
            state,
            order_number=task.order_number,
            request=CompleteTaskRequest(
                task_id=task_id, outcome=body.outcome, note=body.note, actor=principal.name
            ),
        )
    except order_flows.WorkflowRefusedError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    refreshed = await in_session(
        state, lambda session: task_service.get(session=session, task_id=task_id), read_only=True
    )
    return task_public(refreshed)
