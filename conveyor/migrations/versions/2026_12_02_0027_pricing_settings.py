"""pricing settings: price agreements, tax and shipping rates, warehouses edited in place

Tax and shipping rates can be retired (they stop pricing orders; what was invoiced keeps its
rates); warehouses get an address, their own staging location and can be retired.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import conveyor.core.models

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _retired_at() -> sa.Column:
    return sa.Column("retired_at", conveyor.core.models.UTCDateTime(timezone=True), nullable=True)


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    for table in ("taxrate", "shippingrate"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(_retired_at())
    with op.batch_alter_table("warehouse") as batch:
        batch.add_column(sa.Column("address", text(length=500), nullable=False, server_default=""))
        batch.add_column(sa.Column("staging_location", text(length=32), nullable=True))
        batch.add_column(_retired_at())


def downgrade() -> None:
    with op.batch_alter_table("warehouse") as batch:
        batch.drop_column("retired_at")
        batch.drop_column("staging_location")
        batch.drop_column("address")
    for table in ("shippingrate", "taxrate"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("retired_at")
