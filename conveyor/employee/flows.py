"""Employee changes that reach past the database: deactivation hands open tasks over."""

from conveyor.audit.service import Actor
from conveyor.core.errors import Conflict
from conveyor.core.state import AppState, in_session
from conveyor.employee import service as employee_service
from conveyor.employee.models import Caller, Employee, EmployeeUpdate
from conveyor.task import flows as task_flows


async def update(
    state: AppState, *, employee_id: int, employee_in: EmployeeUpdate, caller: Caller, actor: Actor
) -> Employee:
    """Apply the change in one transaction (validated first: a refusal changes nothing); when
    it deactivated the employee, their open tasks then go to others on duty (or the pool)."""
    if employee_in.active is False and caller.employee_id == employee_id:
        raise Conflict("you cannot deactivate yourself; ask another administrator")
    employee, deactivated = await in_session(
        state,
        lambda s: employee_service.update(
            session=s, employee_id=employee_id, employee_in=employee_in, actor=actor
        ),
    )
    if deactivated:
        await task_flows.clock_out(state, employee_id=employee_id, caller=caller, actor=actor)
    return employee
