"""Employee endpoints: create, list, update, password link, tokens (issue, rotate, revoke),
deactivate, clock in/out, shifts."""

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status

from api.deps import (
    Principal,
    ReadSessionDep,
    SessionDep,
    StateDep,
    require,
)
from conveyor.audit.models import Source
from conveyor.audit.service import record, snapshot
from conveyor.auth import flows as link_flows
from conveyor.auth.permissions import Permission
from conveyor.core.state import in_session
from conveyor.employee import flows as employee_flows
from conveyor.employee import service as employee_service
from conveyor.employee.models import (
    AttendancePublic,
    EmployeeCreate,
    EmployeeCreated,
    EmployeePublic,
    EmployeesPublic,
    EmployeeToken,
    EmployeeUpdate,
    TokenCreate,
    TokenIssued,
    TokenPublic,
    TokenRotate,
)
from conveyor.task import flows as task_flows

router = APIRouter()


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EmployeeCreated)
def create_employee(
    employee_in: EmployeeCreate,
    session: SessionDep,
    state: StateDep,
    principal: Annotated[Principal, require(Permission.EMPLOYEES_MANAGE)],
) -> EmployeeCreated:
    """Create an employee; the answer holds their first bearer token, shown only this once
    (it expires after CONVEYOR_TOKEN_TTL_DAYS when that is set)."""
    employee, token = employee_service.create(
        session=session, employee_in=employee_in, token_ttl_days=state.settings.token_ttl_days
    )
    record(
        session,
        actor=principal.actor(Source.API),
        action="employee.create",
        entity="employee",
        entity_id=employee.id,
        after=snapshot(employee, ["name", "email", "roles", "clearance", "active"]),
    )
    return EmployeeCreated.model_validate(employee, update={"token": token})


@router.get("", response_model=EmployeesPublic)
def list_employees(
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.EMPLOYEES_MANAGE)],
    role: Annotated[str | None, Query(max_length=50)] = None,
    active: bool | None = None,
    sort: Literal["name", "email", "clearance", "created"] = "name",
    descending: bool = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> EmployeesPublic:
    """Employees, filtered by role and active flag, sorted, one page of them."""
    rows, count = employee_service.list_page(
        session=session,
        role=role,
        active=active,
        sort=sort,
        descending=descending,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    return EmployeesPublic(data=[EmployeePublic.model_validate(e) for e in rows], count=count)


@router.get("/{employee_id}", response_model=EmployeePublic)
def get_employee(
    employee_id: int,
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.EMPLOYEES_MANAGE)],
) -> EmployeePublic:
    """One employee."""
    employee = employee_service.get(session=session, employee_id=employee_id)
    if employee is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"employee {employee_id} not found")
    return EmployeePublic.model_validate(employee)


@router.patch("/{employee_id}", response_model=EmployeePublic)
async def update_employee(
    employee_id: int,
    body: EmployeeUpdate,
    state: StateDep,
    principal: Annotated[Principal, require(Permission.EMPLOYEES_MANAGE)],
) -> EmployeePublic:
    """Change name, e-mail, roles (Conveyor's roles only), clearance or active; `active: false`
    revokes every token, ends every session and hands their open tasks over."""
    employee = await employee_flows.update(
        state,
        employee_id=employee_id,
        employee_in=body,
        caller=principal,
        actor=principal.actor(Source.API),
    )
    return EmployeePublic.model_validate(employee)


@router.post("/{employee_id}/password-link", status_code=status.HTTP_202_ACCEPTED)
async def send_password_link(
    employee_id: int,
    state: StateDep,
    principal: Annotated[Principal, require(Permission.EMPLOYEES_MANAGE)],
) -> dict[str, str]:
    """E-mail the employee a one-time link to choose their password (nobody else sees it)."""
    try:
        email = await link_flows.send_password_link(
            state, kind="employee", account_id=employee_id, actor=principal.actor(Source.API)
        )
    except link_flows.LinkNotSent as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    return {"sent_to": email}


@router.post("/{employee_id}/clock-in", response_model=EmployeePublic)
async def clock_in(
    employee_id: int,
    state: StateDep,
    principal: Annotated[Principal, require(Permission.TASKS_WORK)],
) -> EmployeePublic:
    """Start a shift (own token or admin); waiting pool tasks of your roles come to you."""
    employee = await task_flows.clock_in(
        state, employee_id=employee_id, caller=principal, actor=principal.actor(Source.API)
    )
    return EmployeePublic.model_validate(employee)


@router.post("/{employee_id}/clock-out", response_model=EmployeePublic)
async def clock_out(
    employee_id: int,
    state: StateDep,
    principal: Annotated[Principal, require(Permission.TASKS_WORK)],
) -> EmployeePublic:
    """End the shift (own token or admin); your open tasks go to others on duty or the pool."""
    employee = await task_flows.clock_out(
        state, employee_id=employee_id, caller=principal, actor=principal.actor(Source.API)
    )
    return EmployeePublic.model_validate(employee)


@router.get("/{employee_id}/attendance", response_model=list[AttendancePublic])
def attendance(
    employee_id: int,
    session: ReadSessionDep,
    principal: Annotated[Principal, require(Permission.TASKS_WORK)],
) -> list[AttendancePublic]:
    """The employee's shifts, newest first (own token or admin)."""
    employee_service.get_own(session=session, employee_id=employee_id, caller=principal)
    return [
        AttendancePublic.model_validate(a)
        for a in employee_service.list_attendance(session=session, employee_id=employee_id)
    ]


# ---- tokens and deactivation (employees.manage) ---------------------------------------------


def _token_issued(row: EmployeeToken, token: str) -> TokenIssued:
    return TokenIssued.model_validate(row, update={"token": token})


@router.get("/{employee_id}/tokens", response_model=list[TokenPublic])
def list_tokens(
    employee_id: int,
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.EMPLOYEES_MANAGE)],
) -> list[TokenPublic]:
    """The employee's bearer tokens, newest first, without their secrets."""
    rows = employee_service.list_tokens(session=session, employee_id=employee_id)
    return [TokenPublic.model_validate(r) for r in rows]


@router.post(
    "/{employee_id}/tokens", status_code=status.HTTP_201_CREATED, response_model=TokenIssued
)
def issue_token(
    employee_id: int,
    body: TokenCreate,
    session: SessionDep,
    state: StateDep,
    principal: Annotated[Principal, require(Permission.EMPLOYEES_MANAGE)],
) -> TokenIssued:
    """A further bearer token for the employee (shown only in this answer); without
    `expires_in_days` it lives CONVEYOR_TOKEN_TTL_DAYS (unset: until revoked)."""
    row, token = employee_service.issue_token(
        session=session,
        employee_id=employee_id,
        name=body.name,
        expires_in_days=body.expires_in_days or state.settings.token_ttl_days,
        actor=principal.actor(Source.API),
    )
    return _token_issued(row, token)


@router.post(
    "/{employee_id}/tokens/{token_id}/rotate",
    status_code=status.HTTP_201_CREATED,
    response_model=TokenIssued,
)
def rotate_token(
    employee_id: int,
    token_id: int,
    session: SessionDep,
    state: StateDep,
    principal: Annotated[Principal, require(Permission.EMPLOYEES_MANAGE)],
    body: TokenRotate | None = None,
) -> TokenIssued:
    """Replace a token: a new one with the same name is issued and the old one revoked."""
    row, token = employee_service.rotate_token(
        session=session,
        employee_id=employee_id,
        token_id=token_id,
        expires_in_days=(body.expires_in_days if body else None) or state.settings.token_ttl_days,
        actor=principal.actor(Source.API),
    )
    return _token_issued(row, token)


@router.delete("/{employee_id}/tokens/{token_id}", response_model=TokenPublic)
def revoke_token(
    employee_id: int,
    token_id: int,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.EMPLOYEES_MANAGE)],
) -> TokenPublic:
    """Revoke a token now: the next request with it gets 401."""
    row = employee_service.revoke_token(
        session=session,
        employee_id=employee_id,
        token_id=token_id,
        actor=principal.actor(Source.API),
    )
    return TokenPublic.model_validate(row)


@router.post("/{employee_id}/deactivate", response_model=EmployeePublic)
async def deactivate(
    employee_id: int,
    state: StateDep,
    principal: Annotated[Principal, require(Permission.EMPLOYEES_MANAGE)],
) -> EmployeePublic:
    """Deactivate an employee: their open tasks go to others on duty (or the pool), every
    token is revoked and every page session ends."""
    actor = principal.actor(Source.API)
    if await in_session(state, lambda s: employee_service.get(session=s, employee_id=employee_id)):
        await task_flows.clock_out(state, employee_id=employee_id, caller=principal, actor=actor)
    employee = await in_session(
        state,
        lambda s: employee_service.deactivate(session=s, employee_id=employee_id, actor=actor),
    )
    return EmployeePublic.model_validate(employee)


@router.post("/{employee_id}/activate", response_model=EmployeePublic)
def activate(
    employee_id: int,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.EMPLOYEES_MANAGE)],
) -> EmployeePublic:
    """Let a deactivated employee back in; their old tokens stay revoked (issue a new one)."""
    employee = employee_service.reactivate(
        session=session, employee_id=employee_id, actor=principal.actor(Source.API)
    )
    return EmployeePublic.model_validate(employee)
