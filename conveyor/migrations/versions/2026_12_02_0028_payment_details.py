"""payment details: who recorded a payment, and whether it was kept as the customer's credit

A payment for an order that owes nothing is refused unless recorded explicitly as customer
credit; the order page and JSON list every payment with who recorded it.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-02 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payment") as batch:
        batch.add_column(
            sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
        batch.add_column(
            sa.Column("customer_credit", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("payment") as batch:
        batch.drop_column("customer_credit")
        batch.drop_column("recorded_by")
