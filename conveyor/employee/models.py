"""Employee and attendance tables, plus API shapes."""

from datetime import datetime
from typing import Protocol

from pydantic import EmailStr
from sqlmodel import Field, SQLModel

from conveyor.core.models import json_list_field, timestamp_field

ADMIN_ROLE = "admin"
SUPERVISOR_ROLE = "supervisor"


class Caller(Protocol):
    """Who is acting: `api.deps.Principal` is one; services check record rules against it."""

    is_admin: bool

    @property
    def employee_id(self) -> int | None: ...

    @property
    def name(self) -> str: ...

    def has_role(self, role: str) -> bool: ...

    def has_clearance(self, level: int) -> bool: ...


class EmployeeBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(max_length=320, unique=True, index=True)
    clearance: int = Field(default=1, ge=0, le=10)


class EmployeeCreate(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    roles: list[str] = Field(default_factory=list, max_length=20)
    clearance: int = Field(default=1, ge=0, le=10)


class EmployeeUpdate(SQLModel):
    """A change of an employee (unset fields stay); `active: false` deactivates them."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = None
    roles: list[str] | None = Field(default=None, max_length=20)
    clearance: int | None = Field(default=None, ge=0, le=10)
    active: bool | None = None


class Employee(EmployeeBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    roles: list[str] = json_list_field()
    # PBKDF2 (conveyor.core.security), chosen by the employee through a one-time link.
    password_hash: str | None = Field(default=None, max_length=200)
    # Bearer tokens are rows of their own (EmployeeToken): several per employee, each revocable.
    active: bool = True
    on_duty: bool = False
    created_at: datetime = timestamp_field()

    def has_role(self, role: str) -> bool:
        """True when the employee holds `role` (admins hold every role)."""
        return role in self.roles or ADMIN_ROLE in self.roles


class EmployeePublic(EmployeeBase):
    id: int
    roles: list[str]
    active: bool
    on_duty: bool


class EmployeeCreated(EmployeePublic):
    token: str


class EmployeesPublic(SQLModel):
    """One page of employees and how many match in all."""

    data: list[EmployeePublic]
    count: int


class EmployeeToken(SQLModel, table=True):
    """One bearer token of an employee. Only its SHA-256 is stored; the token is shown once.

    A token works while it is neither revoked nor past `expires_at` and its employee is active.
    """

    id: int | None = Field(default=None, primary_key=True)
    employee_id: int = Field(foreign_key="employee.id", index=True)
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = timestamp_field()
    expires_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    revoked_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    # Updated at most every few minutes (not on every request).
    last_used_at: datetime | None = timestamp_field(nullable=True, default_now=False)


class TokenCreate(SQLModel):
    """A new token: its label and lifetime (unset: CONVEYOR_TOKEN_TTL_DAYS, unset there: none)."""

    name: str = Field(default="api", min_length=1, max_length=100)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenRotate(SQLModel):
    """The replacement's lifetime (unset: CONVEYOR_TOKEN_TTL_DAYS); it keeps the old name."""

    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenPublic(SQLModel):
    """A token without its secret."""

    id: int
    employee_id: int
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenIssued(TokenPublic):
    """A token just issued: the only answer that holds the secret."""

    token: str


class Attendance(SQLModel, table=True):
    """One shift: clocked in at, clocked out at (open while on duty)."""

    id: int | None = Field(default=None, primary_key=True)
    employee_id: int = Field(foreign_key="employee.id", index=True)
    clock_in_at: datetime = timestamp_field()
    clock_out_at: datetime | None = timestamp_field(nullable=True, default_now=False)


class AttendancePublic(SQLModel):
    clock_in_at: datetime
    clock_out_at: datetime | None
