"""Employee operations: create, authenticate, clock in and out."""

import re

from sqlmodel import Session, col, select

from conveyor.core.errors import Conflict, Forbidden, NotFound
from conveyor.core.models import row_id, utcnow
from conveyor.core.security import hash_token, new_token
from conveyor.employee.models import Attendance, Caller, Employee, EmployeeCreate

ROLE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,49}$")


class EmployeeError(Conflict):
    """An employee operation that breaks a rule (duplicate e-mail, bad role)."""


def get(*, session: Session, employee_id: int) -> Employee | None:
    """The employee with that id, or None."""
    return session.get(Employee, employee_id)


def get_own(*, session: Session, employee_id: int, caller: Caller) -> Employee:
    """The employee, when `caller` is that employee or an admin (their shifts are their own)."""
    employee = get(session=session, employee_id=employee_id)
    if employee is None:
        raise NotFound(f"employee {employee_id} not found")
    if not caller.is_admin and caller.employee_id != employee_id:
        raise Forbidden("you may only clock yourself in or out")
    return employee


def get_by_token(*, session: Session, token: str) -> Employee | None:
    """The active employee holding this bearer token, or None."""
    return session.exec(
        select(Employee)
        .where(Employee.token_hash == hash_token(token))
        .where(col(Employee.active).is_(True))
    ).first()


def create(*, session: Session, employee_in: EmployeeCreate) -> tuple[Employee, str]:
    """Create an employee; returns it with its bearer token (shown once, stored hashed)."""
    email = employee_in.email.lower()
    if session.exec(select(Employee).where(Employee.email == email)).first():
        raise EmployeeError(f"an employee with e-mail {email} already exists")
    for role in employee_in.roles:
        if not ROLE_PATTERN.match(role):
            raise EmployeeError(f"role {role!r} must be lower_snake_case")
    token = new_token()
    employee = Employee(
        name=employee_in.name,
        email=email,
        roles=sorted(set(employee_in.roles)),
        clearance=employee_in.clearance,
        token_hash=hash_token(token),
    )
    session.add(employee)
    session.flush()
    return employee, token


def clock_in(*, session: Session, employee: Employee) -> Employee:
    """Start a shift (a no-op when already on duty)."""
    if not employee.on_duty:
        employee.on_duty = True
        session.add(employee)
        session.add(Attendance(employee_id=row_id(employee)))
        session.flush()
    return employee


def clock_out(*, session: Session, employee: Employee) -> Employee:
    """End the open shift (a no-op when off duty)."""
    if employee.on_duty:
        employee.on_duty = False
        session.add(employee)
        shift = session.exec(
            select(Attendance)
            .where(Attendance.employee_id == employee.id)
            .where(col(Attendance.clock_out_at).is_(None))
        ).first()
        if shift:
            shift.clock_out_at = utcnow()
            session.add(shift)
        session.flush()
    return employee


def list_attendance(*, session: Session, employee_id: int) -> list[Attendance]:
    """The employee's shifts, newest first."""
    return list(
        session.exec(
            select(Attendance)
            .where(Attendance.employee_id == employee_id)
            .order_by(col(Attendance.id).desc())
        ).all()
    )


def list_active(*, session: Session, role: str | None = None) -> list[Employee]:
    """Active employees by name, optionally only those holding `role`."""
    employees = session.exec(
        select(Employee).where(col(Employee.active).is_(True)).order_by(col(Employee.name))
    ).all()
    return [e for e in employees if role is None or e.has_role(role)]
