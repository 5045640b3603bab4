"""Task inbox endpoints: list, claim, unclaim, reassign, complete."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import Principal, ReadSessionDep, StateDep, require
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.core import keyset
from conveyor.core.state import in_session
from conveyor.order.enums import Step
from conveyor.task import flows as task_flows
from conveyor.task import service as task_service
from conveyor.task.models import Task, TaskComplete, TaskPublic, TaskReassign, TasksPublic

router = APIRouter()


def task_public(task: Task) -> TaskPublic:
    """The API view of a task, with its SLA state."""
    return TaskPublic.model_validate(task, update={"sla_state": task_service.sla_state(task)})


@router.get("", response_model=TasksPublic)
def list_tasks(
    session: ReadSessionDep,
    principal: Annotated[Principal, require(Permission.TASKS_WORK)],
    scope: Literal["mine", "pool", "all"] = "all",
    step: Step | None = None,
    status_: Annotated[
        Literal["open", "completed", "cancelled", "any"], Query(alias="status")
    ] = "open",
    overdue: bool | None = None,
    sort: Literal["created", "-created", "due", "-due"] = "created",
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> TasksPublic:
    """The caller's inbox: `mine`, their roles' `pool`, or `all` of their roles' tasks.

    Deep pages: pass the answer's `next_cursor` as `cursor` (the same filters and sort; `page`
    is then ignored). `count` stops at 10,000 (`count_exact` false beyond)."""
    query = task_service.inbox_query(
        employee=None if principal.is_admin else principal.employee,
        scope=scope,
        step=step,
        status=status_,
        overdue=overdue,
    )
    found = keyset.values_page(
        session,
        query,
        task_service.SORTS[sort],
        limit=page_size,
        offset=(page - 1) * page_size,
        after=cursor,
    )
    # Plain values, validated in one pass for the whole page.
    return TasksPublic.model_validate(
        {
            "data": [{**t._mapping, "sla_state": task_service.sla_state(t)} for t in found.rows],
            "count": found.count,
            "count_exact": found.exact,
            "next_cursor": found.next_cursor,
        }
    )


@router.get("/{task_id}", response_model=TaskPublic)
def read_task(
    task_id: int,
    session: ReadSessionDep,
    principal: Annotated[Principal, require(Permission.TASKS_WORK)],
) -> TaskPublic:
    """One task."""
    return task_public(task_service.get_for(session=session, task_id=task_id, caller=principal))


@router.post("/{task_id}/claim", response_model=TaskPublic)
async def claim_task(
    task_id: int, state: StateDep, principal: Annotated[Principal, require(Permission.TASKS_WORK)]
) -> TaskPublic:
    """Take a pool task; 409 when someone else was first."""
    task = await task_flows.claim(
        state, task_id=task_id, caller=principal, actor=principal.actor(Source.API)
    )
    return task_public(task)


@router.post("/{task_id}/unclaim", response_model=TaskPublic)
async def unclaim_task(
    task_id: int, state: StateDep, principal: Annotated[Principal, require(Permission.TASKS_WORK)]
) -> TaskPublic:
    """Give a task you hold back to the pool."""
    task = await in_session(
        state,
        lambda session: task_service.unclaim_for(
            session=session, task_id=task_id, caller=principal, actor=principal.actor(Source.API)
        ),
    )
    return task_public(task)


@router.post("/{task_id}/reassign", response_model=TaskPublic)
async def reassign_task(
    task_id: int,
    body: TaskReassign,
    state: StateDep,
    principal: Annotated[Principal, require(Permission.TASKS_REASSIGN)],
) -> TaskPublic:
    """Give the task to another employee of its role, or back to the pool (supervisors)."""
    task = await task_flows.reassign(
        state, task_id=task_id, employee_id=body.employee_id, actor=principal.actor(Source.API)
    )
    return task_public(task)


@router.post("/{task_id}/complete", response_model=TaskPublic)
async def complete_task(
    task_id: int,
    body: TaskComplete,
    state: StateDep,
    principal: Annotated[Principal, require(Permission.TASKS_WORK)],
) -> TaskPublic:
    """Complete with an outcome (`done`, `approved`, `rejected`) and a note; the order resumes."""
    task = await task_flows.complete(
        state, task_id=task_id, outcome=body.outcome, note=body.note, caller=principal
    )
    return task_public(task)
