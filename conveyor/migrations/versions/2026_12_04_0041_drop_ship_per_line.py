"""drop-ship per order line: allowable products, and each line's source

A product may be drop-ship allowable (each order line from stock or from a supplier); an order
line records where it ships from, decided when the order was placed. Existing lines take the
source their product's drop-ship flag gave them.

Revision ID: 0041
Revises: 0038
Create Date: 2026-12-04 02:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0041"
down_revision: str | None = "0042"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("drop_ship_allowed", sa.Boolean(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("orderline", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("drop_ship", sa.Boolean(), server_default="0", nullable=False)
        )
    product = sa.table(
        "product", sa.column("sku", sa.String()), sa.column("drop_ship", sa.Boolean())
    )
    line = sa.table(
        "orderline", sa.column("sku", sa.String()), sa.column("drop_ship", sa.Boolean())
    )
    shipped_by_supplier = sa.select(product.c.sku).where(product.c.drop_ship == sa.true())
    op.execute(line.update().where(line.c.sku.in_(shipped_by_supplier)).values(drop_ship=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("orderline", schema=None) as batch_op:
        batch_op.drop_column("drop_ship")
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.drop_column("drop_ship_allowed")
