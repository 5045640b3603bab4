"""Employee operations: create, list, update, passwords, tokens (issue, rotate, revoke),
deactivate, clock in and out."""

import re
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_
from sqlalchemy import update as sql_update
from sqlmodel import Session, col, select

from conveyor.audit.service import Actor, changed, record, snapshot
from conveyor.auth import credentials
from conveyor.auth.permissions import Role
from conveyor.core.errors import Conflict, Forbidden, Invalid, NotFound
from conveyor.core.models import row_id, utcnow
from conveyor.core.security import hash_password, hash_token, new_token
from conveyor.employee.models import (
    Attendance,
    Caller,
    Employee,
    EmployeeCreate,
    EmployeeToken,
    EmployeeUpdate,
)

EXPIRES_AT_TYPE = EmployeeToken.__table__.c.expires_at.type  # type: ignore[attr-defined]
ROLE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,49}$")


class EmployeeError(Conflict):
    """An employee operation that breaks a rule (duplicate e-mail, bad role)."""


def get(*, session: Session, employee_id: int) -> Employee | None:
    """The employee with that id, or None."""
    return session.get(Employee, employee_id)


def get_by_email(*, session: Session, email: str) -> Employee | None:
    """The employee with that e-mail (case-insensitive), or None."""
    return session.exec(select(Employee).where(Employee.email == email.strip().lower())).first()


def get_own(*, session: Session, employee_id: int, caller: Caller) -> Employee:
    """The employee, when `caller` is that employee or an admin (their shifts are their own)."""
    employee = get(session=session, employee_id=employee_id)
    if employee is None:
        raise NotFound(f"employee {employee_id} not found")
    if not caller.is_admin and caller.employee_id != employee_id:
        raise Forbidden("you may only clock yourself in or out")
    return employee


# Built once: a statement object keeps its cache key, so the lookup every API request makes
# skips building the join and walking it again for SQLAlchemy's compiled-statement cache.
_BY_TOKEN = (
    select(Employee, EmployeeToken)
    .join(EmployeeToken, col(EmployeeToken.employee_id) == col(Employee.id))
    .where(EmployeeToken.token_hash == bindparam("token_hash"))
    .where(col(EmployeeToken.revoked_at).is_(None))
    .where(
        or_(
            col(EmployeeToken.expires_at).is_(None),
            col(EmployeeToken.expires_at) > bindparam("now", type_=EXPIRES_AT_TYPE),
        )
    )
    .where(col(Employee.active).is_(True))
)


def get_by_token(
    *, session: Session, token: str, now: datetime | None = None
) -> tuple[Employee, EmployeeToken] | None:
    """The active employee holding this bearer token and the token's row, or None (unknown,
    revoked or expired token, inactive employee)."""
    params = {"token_hash": hash_token(token), "now": now or utcnow()}
    found = session.exec(_BY_TOKEN, params=params).first()
    return (found[0], found[1]) if found is not None else None


# last_used_at is written at most this often per token: a busy client costs no write per call.
LAST_USED_RESOLUTION = timedelta(minutes=5)


def touch_token(*, session: Session, token_id: int, now: datetime) -> None:
    """Record that the token was used now, unless that was recorded within the resolution."""
    session.execute(
        sql_update(EmployeeToken)
        .where(col(EmployeeToken.id) == token_id)
        .where(
            or_(
                col(EmployeeToken.last_used_at).is_(None),
                col(EmployeeToken.last_used_at) < now - LAST_USED_RESOLUTION,
            )
        )
        .values(last_used_at=now)
    )


def needs_touch(token: EmployeeToken, now: datetime) -> bool:
    """True when the token's last use is unrecorded or older than the resolution."""
    return token.last_used_at is None or token.last_used_at < now - LAST_USED_RESOLUTION


def create(
    *, session: Session, employee_in: EmployeeCreate, token_ttl_days: int | None = None
) -> tuple[Employee, str]:
    """Create an employee; returns it with its first bearer token (shown once, stored hashed),
    which expires after `token_ttl_days` (None: never)."""
    email = employee_in.email.lower()
    if session.exec(select(Employee).where(Employee.email == email)).first():
        raise EmployeeError(f"an employee with e-mail {email} already exists")
    for role in employee_in.roles:
        if not ROLE_PATTERN.match(role):
            raise EmployeeError(f"role {role!r} must be lower_snake_case")
    employee = _insert(session, employee_in, sorted(set(employee_in.roles)))
    _, token = _new_token(session, employee, name="initial", expires_in_days=token_ttl_days)
    return employee, token


def add(*, session: Session, employee_in: EmployeeCreate, actor: Actor) -> Employee:
    """Create an employee holding Conveyor's roles only, without a token (they choose a
    password through a mailed link; tokens are issued on purpose). Audited."""
    roles = check_roles(employee_in.roles)
    if get_by_email(session=session, email=employee_in.email) is not None:
        raise EmployeeError(f"an employee with e-mail {employee_in.email.lower()} already exists")
    employee = _insert(session, employee_in, roles)
    record(
        session,
        actor=actor,
        action="employee.create",
        entity="employee",
        entity_id=row_id(employee),
        after=snapshot(employee, EDITABLE_FIELDS),
    )
    return employee


def _insert(session: Session, employee_in: EmployeeCreate, roles: list[str]) -> Employee:
    employee = Employee(
        name=employee_in.name,
        email=employee_in.email.lower(),
        roles=roles,
        clearance=employee_in.clearance,
    )
    session.add(employee)
    session.flush()
    return employee


# ---- list, update, passwords ----------------------------------------------------------------

EDITABLE_FIELDS = ("name", "email", "roles", "clearance", "active")
SORTS = {
    "name": lambda e: e.name.lower(),
    "email": lambda e: e.email,
    "clearance": lambda e: e.clearance,
    "created": lambda e: e.created_at,
}


def list_page(
    *,
    session: Session,
    role: str | None = None,
    active: bool | None = None,
    sort: str = "name",
    descending: bool = False,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Employee], int]:
    """Employees holding `role` (exactly, not through admin) and `active` as asked, sorted by
    `sort` (one of SORTS); one page of them and how many match in all.

    Roles are a JSON list, so the role filter runs here rather than in SQL: a company has
    hundreds of employees, not millions.
    """
    query = select(Employee)
    if active is not None:
        query = query.where(col(Employee.active).is_(active))
    rows = [e for e in session.exec(query).all() if role is None or role in e.roles]
    rows.sort(key=lambda e: e.id or 0)  # ties keep a stable order
    rows.sort(key=SORTS.get(sort, SORTS["name"]), reverse=descending)
    return rows[offset : offset + limit], len(rows)


def check_roles(roles: list[str]) -> list[str]:
    """The roles, deduplicated and sorted; Invalid naming any that is not a Conveyor role."""
    known = {role.value for role in Role}
    unknown = sorted({r for r in roles if r not in known})
    if unknown:
        raise Invalid(f"unknown role {', '.join(unknown)}; roles are {', '.join(sorted(known))}")
    return sorted(set(roles))


def update(
    *, session: Session, employee_id: int, employee_in: EmployeeUpdate, actor: Actor
) -> tuple[Employee, bool]:
    """Change an employee's name, e-mail, roles, clearance or active flag; whether this
    deactivated them (then every token is revoked and every session ended, see `deactivate`;
    the caller hands their open tasks over). Audited with the fields that changed."""
    employee = _employee(session, employee_id)
    before = snapshot(employee, EDITABLE_FIELDS)
    fields = employee_in.model_dump(exclude_unset=True)
    if fields.get("roles") is not None:
        employee.roles = check_roles(fields["roles"])
    if fields.get("email") is not None:
        email = str(fields["email"]).lower()
        other = get_by_email(session=session, email=email)
        if other is not None and other.id != employee_id:
            raise EmployeeError(f"an employee with e-mail {email} already exists")
        employee.email = email
    for name in ("name", "clearance"):
        if fields.get(name) is not None:
            setattr(employee, name, fields[name])
    was_active = employee.active
    session.add(employee)
    session.flush()
    edited_before, edited_after = changed(before, snapshot(employee, EDITABLE_FIELDS))
    if edited_after:
        record(
            session,
            actor=actor,
            action="employee.update",
            entity="employee",
            entity_id=employee_id,
            before=edited_before,
            after=edited_after,
        )
    deactivated = fields.get("active") is False and was_active
    if deactivated:
        deactivate(session=session, employee_id=employee_id, actor=actor)
    elif fields.get("active") is True:
        reactivate(session=session, employee_id=employee_id, actor=actor)
    return employee, deactivated


def set_password(*, session: Session, employee: Employee, password: str, actor: Actor) -> Employee:
    """Give the employee this password (the demo and scripts; people choose theirs by link)."""
    if len(password) < 8:
        raise Invalid("a password needs at least 8 characters")
    had = employee.password_hash is not None
    employee.password_hash = hash_password(password)
    session.add(employee)
    session.flush()
    # The password itself is never logged: only that there is one.
    record(
        session,
        actor=actor,
        action="employee.password_set",
        entity="employee",
        entity_id=row_id(employee),
        before={"password": had},
        after={"password": True},
    )
    return employee


def replace_password_hash(
    *, session: Session, employee_id: int, expected: str, password_hash: str
) -> bool:
    """Store a rehash of the same password, unless the password changed meanwhile."""
    employee = get(session=session, employee_id=employee_id)
    if employee is None or employee.password_hash != expected:
        return False
    employee.password_hash = password_hash
    session.add(employee)
    session.flush()
    return True


# ---- tokens ---------------------------------------------------------------------------------

TOKEN_FIELDS = ("employee_id", "name", "created_at", "expires_at", "revoked_at")


def _new_token(
    session: Session, employee: Employee, *, name: str, expires_in_days: int | None
) -> tuple[EmployeeToken, str]:
    token = new_token()
    now = utcnow()
    row = EmployeeToken(
        employee_id=row_id(employee),
        name=name,
        token_hash=hash_token(token),
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(row)
    session.flush()
    return row, token


def _employee(session: Session, employee_id: int) -> Employee:
    employee = get(session=session, employee_id=employee_id)
    if employee is None:
        raise NotFound(f"employee {employee_id} not found")
    return employee


def _token(session: Session, employee_id: int, token_id: int) -> EmployeeToken:
    row = session.get(EmployeeToken, token_id)
    if row is None or row.employee_id != employee_id:
        raise NotFound(f"token {token_id} of employee {employee_id} not found")
    return row


def list_tokens(*, session: Session, employee_id: int) -> list[EmployeeToken]:
    """The employee's tokens (revoked and expired ones too), newest first."""
    _employee(session, employee_id)
    return list(
        session.exec(
            select(EmployeeToken)
            .where(EmployeeToken.employee_id == employee_id)
            .order_by(col(EmployeeToken.id).desc())
        ).all()
    )


def issue_token(
    *,
    session: Session,
    employee_id: int,
    name: str,
    expires_in_days: int | None,
    actor: Actor,
) -> tuple[EmployeeToken, str]:
    """A new bearer token for an active employee (the secret is returned, never stored)."""
    employee = _employee(session, employee_id)
    if not employee.active:
        raise EmployeeError(f"employee {employee_id} is deactivated")
    row, token = _new_token(session, employee, name=name, expires_in_days=expires_in_days)
    record(
        session,
        actor=actor,
        action="employee.token_issue",
        entity="employee_token",
        entity_id=row_id(row),
        after=snapshot(row, TOKEN_FIELDS),
    )
    return row, token


def revoke_token(
    *, session: Session, employee_id: int, token_id: int, actor: Actor
) -> EmployeeToken:
    """End a token now (a no-op for one already revoked)."""
    row = _token(session, employee_id, token_id)
    if row.revoked_at is None:
        before = snapshot(row, TOKEN_FIELDS)
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()
        record(
            session,
            actor=actor,
            action="employee.token_revoke",
            entity="employee_token",
            entity_id=token_id,
            before=before,
            after=snapshot(row, TOKEN_FIELDS),
        )
    return row


def rotate_token(
    *,
    session: Session,
    employee_id: int,
    token_id: int,
    expires_in_days: int | None,
    actor: Actor,
) -> tuple[EmployeeToken, str]:
    """Issue a replacement (same name) and revoke the old token, in one transaction."""
    old = _token(session, employee_id, token_id)
    if old.revoked_at is not None:
        raise EmployeeError(f"token {token_id} is already revoked; issue a new one instead")
    new, token = issue_token(
        session=session,
        employee_id=employee_id,
        name=old.name,
        expires_in_days=expires_in_days,
        actor=actor,
    )
    revoke_token(session=session, employee_id=employee_id, token_id=token_id, actor=actor)
    return new, token


def _revoke_all(session: Session, employee_id: int, now: datetime) -> int:
    result = session.execute(
        sql_update(EmployeeToken)
        .where(col(EmployeeToken.employee_id) == employee_id)
        .where(col(EmployeeToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def deactivate(*, session: Session, employee_id: int, actor: Actor) -> Employee:
    """Deactivate an employee: every token revoked, every page session ended, off duty."""
    employee = _employee(session, employee_id)
    before = snapshot(employee, ("active", "on_duty"))
    now = utcnow()
    revoked = _revoke_all(session, employee_id, now)
    ended = credentials.end_sessions_of(session=session, kind="employee", subject_id=employee_id)
    clock_out(session=session, employee=employee)
    if employee.active:
        employee.active = False
        session.add(employee)
        session.flush()
    record(
        session,
        actor=actor,
        action="employee.deactivate",
        entity="employee",
        entity_id=employee_id,
        before=before,
        after={
            **snapshot(employee, ("active", "on_duty")),
            "tokens_revoked": revoked,
            "sessions_ended": ended,
        },
    )
    return employee


def reactivate(*, session: Session, employee_id: int, actor: Actor) -> Employee:
    """Let a deactivated employee back in; their old tokens stay revoked (issue a new one)."""
    employee = _employee(session, employee_id)
    if not employee.active:
        employee.active = True
        session.add(employee)
        session.flush()
        record(
            session,
            actor=actor,
            action="employee.reactivate",
            entity="employee",
            entity_id=employee_id,
            before={"active": False},
            after={"active": True},
        )
    return employee


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
