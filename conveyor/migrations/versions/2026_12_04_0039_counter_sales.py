"""counter sales: cash drawer sessions, their cash movements, and how each counter sale was paid

Revision ID: 0039
Revises: 0037
Create Date: 2026-12-04 01:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import conveyor.core.models

revision: str = "0039"
down_revision: str | None = "0037"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    timestamp = conveyor.core.models.UTCDateTime(timezone=True)
    money = sa.Numeric(14, 2)
    op.create_table(
        "cashdrawer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("open_for", sa.Integer(), nullable=True),
        sa.Column("status", text(length=8), nullable=False),
        sa.Column("currency", text(length=3), nullable=False),
        sa.Column("opening_float", money, nullable=False),
        sa.Column("expected", money, nullable=False),
        sa.Column("counted", money, nullable=True),
        sa.Column("difference", money, nullable=True),
        sa.Column("opened_by", text(length=200), nullable=False),
        sa.Column("closed_by", text(length=200), nullable=True),
        sa.Column("note", text(length=500), nullable=False),
        sa.Column("opened_at", timestamp, nullable=False),
        sa.Column("closed_at", timestamp, nullable=True),
        sa.ForeignKeyConstraint(["employee_id"], ["employee.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("open_for"),
    )
    op.create_index("ix_cashdrawer_employee_id", "cashdrawer", ["employee_id"])
    op.create_index("ix_cashdrawer_status", "cashdrawer", ["status"])
    op.create_table(
        "cashmovement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", text(length=200), nullable=False),
        sa.Column("drawer_id", sa.Integer(), nullable=False),
        sa.Column("kind", text(length=16), nullable=False),
        sa.Column("amount", money, nullable=False),
        sa.Column("order_number", text(length=32), nullable=True),
        sa.Column("reference", text(length=64), nullable=True),
        sa.Column("actor", text(length=200), nullable=False),
        sa.Column("at", timestamp, nullable=False),
        sa.ForeignKeyConstraint(["drawer_id"], ["cashdrawer.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_cashmovement_drawer_id", "cashmovement", ["drawer_id"])
    op.create_index("ix_cashmovement_order_number", "cashmovement", ["order_number"])
    op.create_table(
        "countersale",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("order_number", text(length=32), nullable=False),
        sa.Column("drawer_id", sa.Integer(), nullable=True),
        sa.Column("tender", text(length=8), nullable=False),
        sa.Column("amount", money, nullable=False),
        sa.Column("tendered", money, nullable=False),
        sa.Column("change", money, nullable=False),
        sa.Column("reference", text(length=200), nullable=True),
        sa.Column("sold_by", text(length=200), nullable=False),
        sa.Column("sold_at", timestamp, nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["salesorder.id"]),
        sa.ForeignKeyConstraint(["drawer_id"], ["cashdrawer.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id"),
        sa.UniqueConstraint("order_number"),
    )
    op.create_index("ix_countersale_drawer_id", "countersale", ["drawer_id"])


def downgrade() -> None:
    op.drop_index("ix_countersale_drawer_id", table_name="countersale")
    op.drop_table("countersale")
    op.drop_index("ix_cashmovement_order_number", table_name="cashmovement")
    op.drop_index("ix_cashmovement_drawer_id", table_name="cashmovement")
    op.drop_table("cashmovement")
    op.drop_index("ix_cashdrawer_status", table_name="cashdrawer")
    op.drop_index("ix_cashdrawer_employee_id", table_name="cashdrawer")
    op.drop_table("cashdrawer")
