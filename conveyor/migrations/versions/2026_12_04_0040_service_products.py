"""service products: a product is goods (kept in stock) or a service (labour, fees)

Service lines are never stock-checked, allocated, picked or packed; they are invoiced once the
service is confirmed delivered. Every existing product is goods.

Revision ID: 0040
Revises: 0037
Create Date: 2026-12-04 01:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0040"
down_revision: str | None = "0039"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Added in place (no table rebuild): SQLite would refuse to rebuild product under its orders.
    op.add_column(
        "product",
        sa.Column(
            "kind",
            sqlmodel.sql.sqltypes.AutoString(length=16),
            server_default="goods",
            nullable=False,
        ),
    )


def downgrade() -> None:
    # In place too (SQLite 3.35+ drops a plain column without a rebuild).
    op.drop_column("product", "kind")
