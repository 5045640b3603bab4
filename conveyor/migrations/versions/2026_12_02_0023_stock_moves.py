"""stock: transfers, adjustments with a reason, imports

Reorder levels per SKU and warehouse (low-stock flag), and a reason and a note on ledger
entries (adjustments say why; receipts and moves carry the person's reference).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    with op.batch_alter_table("stockbalance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reorder_level", sa.Integer(), nullable=True))
    with op.batch_alter_table("stockmovement", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", text(length=32), nullable=True))
        batch_op.add_column(sa.Column("note", text(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stockmovement", schema=None) as batch_op:
        batch_op.drop_column("note")
        batch_op.drop_column("reason")
    with op.batch_alter_table("stockbalance", schema=None) as batch_op:
        batch_op.drop_column("reorder_level")
