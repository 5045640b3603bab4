"""master data: addresses, contacts, payment terms, retiring records

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import conveyor.core.models

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _retired_at() -> sa.Column:
    return sa.Column("retired_at", conveyor.core.models.UTCDateTime(timezone=True), nullable=True)


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    stamp = conveyor.core.models.UTCDateTime
    op.create_table(
        "customeraddress",
        sa.Column("kind", text(length=16), nullable=False),
        sa.Column("name", text(length=200), nullable=False),
        sa.Column("line1", text(length=200), nullable=False),
        sa.Column("line2", text(length=200), nullable=True),
        sa.Column("city", text(length=100), nullable=False),
        sa.Column("region", text(length=100), nullable=True),
        sa.Column("postcode", text(length=20), nullable=True),
        sa.Column("country", text(length=2), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        _retired_at(),
        sa.Column("created_at", stamp(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_customeraddress_customer_id", "customeraddress", ["customer_id"])
    op.create_table(
        "customercontact",
        sa.Column("name", text(length=200), nullable=False),
        sa.Column("email", text(length=320), nullable=True),
        sa.Column("phone", text(length=40), nullable=True),
        sa.Column("role", text(length=100), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        _retired_at(),
        sa.Column("created_at", stamp(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_customercontact_customer_id", "customercontact", ["customer_id"])
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("payment_terms_days", sa.Integer(), server_default="30", nullable=False)
        )
        batch_op.add_column(_retired_at())
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.add_column(_retired_at())


def downgrade() -> None:
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.drop_column("retired_at")
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_column("retired_at")
        batch_op.drop_column("payment_terms_days")
    op.drop_index("ix_customercontact_customer_id", table_name="customercontact")
    op.drop_table("customercontact")
    op.drop_index("ix_customeraddress_customer_id", table_name="customeraddress")
    op.drop_table("customeraddress")
