"""Employee endpoints: create (admin), clock in/out, attendance history."""

from fastapi import APIRouter, HTTPException, status

from api.deps import (
    AdminPrincipal,
    CurrentPrincipal,
    Principal,
    ReadSessionDep,
    SessionDep,
    StateDep,
)
from conveyor.core.state import in_session
from conveyor.employee import service as employee_service
from conveyor.employee.models import (
    AttendancePublic,
    Employee,
    EmployeeCreate,
    EmployeeCreated,
    EmployeePublic,
)
from conveyor.task import flows as task_flows

router = APIRouter()


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EmployeeCreated)
def create_employee(
    employee_in: EmployeeCreate, session: SessionDep, _: AdminPrincipal
) -> EmployeeCreated:
    """Create an employee; the answer holds their bearer token, shown only this once."""
    try:
        employee, token = employee_service.create(session=session, employee_in=employee_in)
    except employee_service.EmployeeError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return EmployeeCreated.model_validate(employee, update={"token": token})


def _own_or_admin(employee_id: int, session: SessionDep, principal: Principal) -> Employee:
    employee = employee_service.get(session=session, employee_id=employee_id)
    if employee is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"employee {employee_id} not found")
    if not principal.is_admin and principal.employee_id != employee_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "you may only clock yourself in or out")
    return employee


@router.post("/{employee_id}/clock-in", response_model=EmployeePublic)
async def clock_in(
    employee_id: int, state: StateDep, principal: CurrentPrincipal
) -> EmployeePublic:
    """Start a shift (own token or admin); waiting pool tasks of your roles come to you."""
    await in_session(state, lambda session: _own_or_admin(employee_id, session, principal))
    return EmployeePublic.model_validate(await task_flows.clock_in(state, employee_id=employee_id))


@router.post("/{employee_id}/clock-out", response_model=EmployeePublic)
async def clock_out(
    employee_id: int, state: StateDep, principal: CurrentPrincipal
) -> EmployeePublic:
    """End the shift (own token or admin); your open tasks go to others on duty or the pool."""
    await in_session(state, lambda session: _own_or_admin(employee_id, session, principal))
    return EmployeePublic.model_validate(await task_flows.clock_out(state, employee_id=employee_id))


@router.get("/{employee_id}/attendance", response_model=list[AttendancePublic])
def attendance(
    employee_id: int, session: ReadSessionDep, principal: CurrentPrincipal
) -> list[AttendancePublic]:
    """The employee's shifts, newest first (own token or admin)."""
    _own_or_admin(employee_id, session, principal)
    return [
        AttendancePublic.model_validate(a)
        for a in employee_service.list_attendance(session=session, employee_id=employee_id)
    ]
