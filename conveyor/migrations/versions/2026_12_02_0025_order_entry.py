"""order and quote entry: PO reference, requested date, ship-to, quote versions

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TEXT_COLUMNS = (
    ("customer_po", 64),
    ("ship_to_name", 200),
    ("ship_to_line1", 200),
    ("ship_to_line2", 200),
    ("ship_to_city", 100),
    ("ship_to_region", 100),
    ("ship_to_postcode", 20),
    ("revises", 32),
    ("superseded_by", 32),
    ("request_key", 200),
)


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    with op.batch_alter_table("salesorder", schema=None) as batch_op:
        for name, length in TEXT_COLUMNS:
            batch_op.add_column(sa.Column(name, text(length=length), nullable=True))
        batch_op.add_column(sa.Column("requested_delivery_date", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("explicit_quote", sa.Boolean(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("quote_valid_until", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("quote_version", sa.Integer(), server_default="1", nullable=False)
        )
    # Indexes, not constraints: SQLite adds them without rebuilding the table (which other tables
    # refer to).
    op.create_index("ix_salesorder_customer_po", "salesorder", ["customer_po"], unique=False)
    op.create_index("ix_salesorder_request_key", "salesorder", ["request_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_salesorder_request_key", table_name="salesorder")
    op.drop_index("ix_salesorder_customer_po", table_name="salesorder")
    with op.batch_alter_table("salesorder", schema=None) as batch_op:
        for name in ("quote_version", "quote_valid_until", "explicit_quote"):
            batch_op.drop_column(name)
        batch_op.drop_column("requested_delivery_date")
        for name, _ in reversed(TEXT_COLUMNS):
            batch_op.drop_column(name)
