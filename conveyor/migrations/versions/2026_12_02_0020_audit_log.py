"""audit log: who changed what, when, through what, before and after

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import conveyor.core.models

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "auditentry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", conveyor.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", text(length=320), nullable=False),
        sa.Column("actor_kind", text(length=16), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=True),
        sa.Column("source", text(length=16), nullable=False),
        sa.Column("action", text(length=64), nullable=False),
        sa.Column("entity", text(length=32), nullable=False),
        sa.Column("entity_id", text(length=64), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_auditentry_entity", "auditentry", ["entity", "entity_id"])
    op.create_index("ix_auditentry_actor", "auditentry", ["actor"])
    op.create_index("ix_auditentry_action", "auditentry", ["action"])
    op.create_index("ix_auditentry_employee_id", "auditentry", ["employee_id"])


def downgrade() -> None:
    op.drop_table("auditentry")
