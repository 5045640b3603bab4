"""read side indexes: the inbox, order list, monitor and report queries at a million tasks

Open tasks are a few percent of all tasks: partial indexes on them (by assignee, by role, by
due time, the unassigned ones by role, each ending in the id) serve every inbox order and its
keyset cursor from a small index. Order lists by status newest first, the monitor's counts per
status and step, and the reports' periods (tasks created or completed since, orders placed
since, trail events of a kind since) get the composite indexes their plans asked for.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-03 12:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status = 'open'")
POOL = sa.text("status = 'open' AND assignee_id IS NULL")
COMPLETED = sa.text("status = 'completed'")
# The report periods' indexes also carry (PostgreSQL INCLUDE; SQLite has none) the columns the
# reports add up, so a month of tasks is read from the index alone, not row by row from the heap.
SLA_COLUMNS = ["step", "role", "status", "due_at", "completed_at"]
WORK_COLUMNS = ["completed_by", "due_at"]
BOOKING_COLUMNS = ["currency", "status", "total"]
# (name, table, columns, rows it covers: None for all, columns carried along)
INDEXES: list[tuple[str, str, list[str], sa.TextClause | None, list[str]]] = [
    ("ix_task_open_assignee_due", "task", ["assignee_id", "due_at", "id"], OPEN, []),
    ("ix_task_open_role_due", "task", ["role", "due_at", "id"], OPEN, []),
    ("ix_task_pool_role_due", "task", ["role", "due_at", "id"], POOL, []),
    ("ix_task_open_due", "task", ["due_at", "id"], OPEN, []),
    ("ix_task_status_id", "task", ["status", "id"], None, []),
    ("ix_task_created_at", "task", ["created_at"], None, SLA_COLUMNS),
    ("ix_task_completed_at", "task", ["completed_at"], COMPLETED, WORK_COLUMNS),
    ("ix_salesorder_status_step", "salesorder", ["status", "current_step"], None, []),
    ("ix_salesorder_status_id", "salesorder", ["status", "id"], None, []),
    ("ix_salesorder_created_at", "salesorder", ["created_at"], None, BOOKING_COLUMNS),
    ("ix_orderevent_kind_at", "orderevent", ["kind", "at"], None, []),
]


def upgrade() -> None:
    for name, table, columns, where, carried in INDEXES:
        op.create_index(
            name,
            table,
            columns,
            postgresql_where=where,
            sqlite_where=where,
            postgresql_include=carried,
        )


def downgrade() -> None:
    for name, table, *_ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
