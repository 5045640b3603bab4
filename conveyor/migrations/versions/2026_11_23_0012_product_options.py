"""product options

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 08:17:33.529328
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # In place: a batch table rebuild would trip over the foreign keys of existing orders.
        op.execute(
            "ALTER TABLE orderline ADD COLUMN parent_line_id INTEGER "
            "CONSTRAINT fk_orderline_parent_line_id REFERENCES orderline (id)"
        )
    else:
        op.add_column("orderline", sa.Column("parent_line_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_orderline_parent_line_id", "orderline", "orderline", ["parent_line_id"], ["id"]
        )
    op.add_column("product", sa.Column("options", sa.JSON(), server_default="[]", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.drop_column("options")
    with op.batch_alter_table("orderline", schema=None) as batch_op:
        batch_op.drop_constraint("fk_orderline_parent_line_id", type_="foreignkey")
        batch_op.drop_column("parent_line_id")
