"""Employee endpoints: create (admin), clock in/out, attendance history."""

from fastapi import APIRouter, status

from api.deps import AdminPrincipal, CurrentPrincipal, ReadSessionDep, SessionDep, StateDep
from conveyor.employee import service as employee_service
from conveyor.employee.models import (
    AttendancePublic,
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
    employee, token = employee_service.create(session=session, employee_in=employee_in)
    return EmployeeCreated.model_validate(employee, update={"token": token})


@router.post("/{employee_id}/clock-in", response_model=EmployeePublic)
async def clock_in(
    employee_id: int, state: StateDep, principal: CurrentPrincipal
) -> EmployeePublic:
    """Start a shift (own token or admin); waiting pool tasks of your roles come to you."""
    employee = await task_flows.clock_in(state, employee_id=employee_id, caller=principal)
    return EmployeePublic.model_validate(employee)


@router.post("/{employee_id}/clock-out", response_model=EmployeePublic)
async def clock_out(
    employee_id: int, state: StateDep, principal: CurrentPrincipal
) -> EmployeePublic:
    """End the shift (own token or admin); your open tasks go to others on duty or the pool."""
    employee = await task_flows.clock_out(state, employee_id=employee_id, caller=principal)
    return EmployeePublic.model_validate(employee)


@router.get("/{employee_id}/attendance", response_model=list[AttendancePublic])
def attendance(
    employee_id: int, session: ReadSessionDep, principal: CurrentPrincipal
) -> list[AttendancePublic]:
    """The employee's shifts, newest first (own token or admin)."""
    employee_service.get_own(session=session, employee_id=employee_id, caller=principal)
    return [
        AttendancePublic.model_validate(a)
        for a in employee_service.list_attendance(session=session, employee_id=employee_id)
    ]
