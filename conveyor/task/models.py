"""Task table and API shapes."""

from datetime import datetime
from enum import StrEnum
from typing import Literal

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from conveyor.core.models import timestamp_field


class TaskStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


def _partial(name: str, *columns: str, where: str = "status = 'open'") -> Index:
    """A partial index over some tasks only (the open ones: a few percent, what inboxes read)."""
    return Index(name, *columns, postgresql_where=text(where), sqlite_where=text(where))


class Task(SQLModel, table=True):
    # The read side at scale (migration 0032): inbox orders by assignee, role and due time, each
    # ending in the id for keyset cursors; lists by status; report periods.
    __table_args__ = (
        _partial("ix_task_open_assignee_due", "assignee_id", "due_at", "id"),
        _partial("ix_task_open_role_due", "role", "due_at", "id"),
        _partial("ix_task_open_due", "due_at", "id"),
        _partial(
            "ix_task_pool_role_due",
            "role",
            "due_at",
            "id",
            where="status = 'open' AND assignee_id IS NULL",
        ),
        Index("ix_task_status_id", "status", "id"),
        # The reports' periods; PostgreSQL keeps the summed columns in the index (INCLUDE).
        Index(
            "ix_task_created_at",
            "created_at",
            postgresql_include=["step", "role", "status", "due_at", "completed_at"],
        ),
        Index(
            "ix_task_completed_at",
            "completed_at",
            postgresql_where=text("status = 'completed'"),
            sqlite_where=text("status = 'completed'"),
            postgresql_include=["completed_by", "due_at"],
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    # An order's task names its order. A task about something else (a supplier invoice the
    # match held) has none: `subject` names what it is about and `details` what to look at.
    order_id: int | None = Field(default=None, foreign_key="salesorder.id", index=True)
    order_number: str | None = Field(default=None, max_length=32, index=True)
    subject: str | None = Field(default=None, max_length=32)
    details: str | None = Field(default=None, max_length=2000)
    step: str = Field(max_length=16, index=True)
    role: str = Field(max_length=50, index=True)
    assignee_id: int | None = Field(default=None, foreign_key="employee.id", index=True)
    assign: str = Field(default="pool", max_length=16)  # strategy, reused when reassigning
    fallback: str = Field(default="pool", max_length=16)  # for `owner` without an account rep
    assigned_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    reminded_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    escalated_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    status: str = Field(default=TaskStatus.OPEN, max_length=16, index=True)
    outcome: str | None = Field(default=None, max_length=32)
    note: str | None = Field(default=None, max_length=2000)
    created_at: datetime = timestamp_field()
    due_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    completed_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    completed_by: str | None = Field(default=None, max_length=200)


class TaskPublic(SQLModel):
    id: int
    order_number: str | None
    subject: str | None = None
    details: str | None = None
    step: str
    role: str
    assignee_id: int | None
    assign: str
    assigned_at: datetime | None
    status: str
    outcome: str | None
    note: str | None
    created_at: datetime
    due_at: datetime | None
    completed_at: datetime | None
    completed_by: str | None
    sla_state: str | None = None  # on_time | due_soon | overdue


class TasksPublic(SQLModel):
    data: list[TaskPublic]
    count: int  # how many match; when `count_exact` is false, at least this many
    count_exact: bool = True
    next_cursor: str | None = None  # `cursor=` for the next page; None on the last page


class TaskReassign(SQLModel):
    employee_id: int | None = Field(default=None, gt=0)  # None: back to the pool


class TaskComplete(SQLModel):
    outcome: Literal["done", "approved", "rejected"] = "done"
    note: str | None = Field(default=None, max_length=2000)


class AssignmentCursor(SQLModel, table=True):
    """Round-robin position per role: the id of the employee who got the last task."""

    role: str = Field(primary_key=True, max_length=50)
    last_employee_id: int = 0
