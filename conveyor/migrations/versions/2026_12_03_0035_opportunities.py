"""opportunities: deals with a customer and their stage history

Revision ID: 0035
Revises: 0033
Create Date: 2026-12-03 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import conveyor.core.models

revision: str = "0035"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    timestamp = conveyor.core.models.UTCDateTime(timezone=True)
    op.create_table(
        "opportunity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", text(length=32), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("title", text(length=200), nullable=False),
        sa.Column("value", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", text(length=3), nullable=False),
        sa.Column("stage", text(length=16), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("expected_close", sa.Date(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("lost_reason", text(length=32), nullable=True),
        sa.Column("close_note", text(length=500), nullable=False),
        sa.Column("won_order", text(length=32), nullable=True),
        sa.Column("created_by", text(length=320), nullable=False),
        sa.Column("created_at", timestamp, nullable=False),
        sa.Column("updated_at", timestamp, nullable=False),
        sa.Column("closed_at", timestamp, nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.ForeignKeyConstraint(["owner_id"], ["employee.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    op.create_index("ix_opportunity_customer_id", "opportunity", ["customer_id"])
    op.create_index("ix_opportunity_owner_id", "opportunity", ["owner_id"])
    op.create_index("ix_opportunity_stage", "opportunity", ["stage"])
    op.create_table(
        "opportunitystagechange",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("from_stage", text(length=16), nullable=True),
        sa.Column("to_stage", text(length=16), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("note", text(length=500), nullable=False),
        sa.Column("actor", text(length=320), nullable=False),
        sa.Column("changed_at", timestamp, nullable=False),
        sa.ForeignKeyConstraint(["opportunity_id"], ["opportunity.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_opportunitystagechange_opportunity_id", "opportunitystagechange", ["opportunity_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_opportunitystagechange_opportunity_id", table_name="opportunitystagechange")
    op.drop_table("opportunitystagechange")
    op.drop_index("ix_opportunity_stage", table_name="opportunity")
    op.drop_index("ix_opportunity_owner_id", table_name="opportunity")
    op.drop_index("ix_opportunity_customer_id", table_name="opportunity")
    op.drop_table("opportunity")
