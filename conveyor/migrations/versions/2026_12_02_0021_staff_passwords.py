"""staff passwords and per-person tokens

Employees get a password hash (set through the same one-time links as customers, so no one
else ever chooses or sees it); a set-password link now belongs to a customer or an employee.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

text = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    # In place (no batch rebuild): the foreign keys of attendance, tokens and tasks refuse a
    # drop-and-recreate of `employee` on SQLite.
    op.add_column("employee", sa.Column("password_hash", text(length=200), nullable=True))
    # Nothing refers to setpasswordlink, so SQLite's batch rebuild is safe here.
    with op.batch_alter_table("setpasswordlink", schema=None) as batch_op:
        batch_op.alter_column("customer_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("employee_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_setpasswordlink_employee_id"), ["employee_id"])
        batch_op.create_foreign_key(
            "fk_setpasswordlink_employee_id_employee", "employee", ["employee_id"], ["id"]
        )


def downgrade() -> None:
    op.execute("DELETE FROM setpasswordlink WHERE customer_id IS NULL")
    with op.batch_alter_table("setpasswordlink", schema=None) as batch_op:
        batch_op.drop_constraint("fk_setpasswordlink_employee_id_employee", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_setpasswordlink_employee_id"))
        batch_op.drop_column("employee_id")
        batch_op.alter_column("customer_id", existing_type=sa.Integer(), nullable=False)
    op.execute("ALTER TABLE employee DROP COLUMN password_hash")
