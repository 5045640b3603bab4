"""supplier group discounts: a supplier's discount on every item of an item group

A discount percent per supplier and item group, from a quantity on, for a period; applied to
the SKU's list price when that price has no discount of its own.

Revision ID: 0042
Revises: 0038
Create Date: 2026-12-04 02:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import conveyor.core.models

revision: str = "0042"
down_revision: str | None = "0038"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

text = sqlmodel.sql.sqltypes.AutoString
timestamp = conveyor.core.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "suppliergroupdiscount",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("item_group", text(length=50), nullable=False),
        sa.Column("discount_percent", sa.Numeric(5, 2), nullable=False),
        sa.Column("min_qty", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("created_at", timestamp, nullable=False),
        sa.ForeignKeyConstraint(["supplier_id"], ["supplier.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("supplier_id", "item_group", "min_qty", "valid_from"),
    )
    op.create_index(
        "ix_suppliergroupdiscount_supplier_id", "suppliergroupdiscount", ["supplier_id"]
    )
    op.create_index("ix_suppliergroupdiscount_item_group", "suppliergroupdiscount", ["item_group"])


def downgrade() -> None:
    op.drop_index("ix_suppliergroupdiscount_item_group", table_name="suppliergroupdiscount")
    op.drop_index("ix_suppliergroupdiscount_supplier_id", table_name="suppliergroupdiscount")
    op.drop_table("suppliergroupdiscount")
