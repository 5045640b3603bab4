"""customer center: carts and customer self-service

Each customer has one cart (kept in the database, so it survives signing out) with its lines.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import conveyor.core.models

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    timestamp = conveyor.core.models.UTCDateTime(timezone=True)
    op.create_table(
        "cart",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("checkout_key", text(length=64), nullable=False),
        sa.Column("created_at", timestamp, nullable=False),
        sa.Column("updated_at", timestamp, nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id"),
    )
    op.create_table(
        "cartline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cart_id", sa.Integer(), nullable=False),
        sa.Column("sku", text(length=64), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("options", sa.JSON(), server_default="[]", nullable=False),
        sa.Column("created_at", timestamp, nullable=False),
        sa.ForeignKeyConstraint(["cart_id"], ["cart.id"]),
        sa.ForeignKeyConstraint(["sku"], ["product.sku"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("cart_id", "sku", name="uq_cartline_sku"),
    )
    op.create_index("ix_cartline_cart_id", "cartline", ["cart_id"])


def downgrade() -> None:
    op.drop_index("ix_cartline_cart_id", table_name="cartline")
    op.drop_table("cartline")
    op.drop_table("cart")
