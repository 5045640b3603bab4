"""store feedback: what a store must hear of its orders (shipments, cancellations)

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-02 16:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import conveyor.core.models

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    timestamp = conveyor.core.models.UTCDateTime(timezone=True)
    op.create_table(
        "storefeedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", text(length=200), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("store", text(length=40), nullable=False),
        sa.Column("provider", text(length=16), nullable=False),
        sa.Column("external_id", text(length=64), nullable=False),
        sa.Column("action", text(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", text(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", text(length=2000), nullable=True),
        sa.Column("next_attempt_at", timestamp, nullable=True),
        sa.Column("claimed_until", timestamp, nullable=True),
        sa.Column("retry_from", timestamp, nullable=False),
        sa.Column("created_at", timestamp, nullable=False),
        sa.Column("sent_at", timestamp, nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["salesorder.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_storefeedback_order_id", "storefeedback", ["order_id"])
    op.create_index("ix_storefeedback_status", "storefeedback", ["status"])


def downgrade() -> None:
    op.drop_index("ix_storefeedback_status", table_name="storefeedback")
    op.drop_index("ix_storefeedback_order_id", table_name="storefeedback")
    op.drop_table("storefeedback")
