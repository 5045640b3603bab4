"""credentials: personal tokens, server-side sessions, set-password links

Employee bearer tokens move out of `employee.token_hash` into `employeetoken` (several per
employee, each with a name, an optional expiry, revocation and last use); every existing token
keeps working as that employee's token "initial". Browser sign-ins get a row each
(`loginsession`), and customers set their password through one-time links (`setpasswordlink`).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import conveyor.core.models

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

text = sqlmodel.sql.sqltypes.AutoString
timestamp = conveyor.core.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "employeetoken",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("name", text(length=100), nullable=False),
        sa.Column("token_hash", text(length=64), nullable=False),
        sa.Column("created_at", timestamp(timezone=True), nullable=False),
        sa.Column("expires_at", timestamp(timezone=True), nullable=True),
        sa.Column("revoked_at", timestamp(timezone=True), nullable=True),
        sa.Column("last_used_at", timestamp(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["employee_id"], ["employee.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("employeetoken", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_employeetoken_employee_id"), ["employee_id"])
        batch_op.create_index(
            batch_op.f("ix_employeetoken_token_hash"), ["token_hash"], unique=True
        )
    op.execute(
        "INSERT INTO employeetoken (employee_id, name, token_hash, created_at) "
        "SELECT id, 'initial', token_hash, created_at FROM employee"
    )
    # A plain ALTER TABLE (SQLite 3.35+ drops a column in place): a batch rebuild would drop
    # and recreate `employee`, which the foreign keys of attendance, tokens and tasks refuse.
    op.drop_index("ix_employee_token_hash", table_name="employee")
    op.execute("ALTER TABLE employee DROP COLUMN token_hash")

    op.create_table(
        "loginsession",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", text(length=64), nullable=False),
        sa.Column("kind", text(length=16), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("created_at", timestamp(timezone=True), nullable=False),
        sa.Column("expires_at", timestamp(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    with op.batch_alter_table("loginsession", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loginsession_subject_id"), ["subject_id"])

    op.create_table(
        "setpasswordlink",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", text(length=64), nullable=False),
        sa.Column("sent_by", text(length=320), nullable=False),
        sa.Column("created_at", timestamp(timezone=True), nullable=False),
        sa.Column("expires_at", timestamp(timezone=True), nullable=False),
        sa.Column("used_at", timestamp(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("setpasswordlink", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_setpasswordlink_customer_id"), ["customer_id"])


def downgrade() -> None:
    op.drop_table("setpasswordlink")
    op.drop_table("loginsession")
    # Back to one token per employee: the newest live one; an employee without one gets a hash
    # no token has (they need a new employee token after the downgrade). Added in place, without
    # a table rebuild (see upgrade); on SQLite the column stays nullable for that reason.
    op.add_column("employee", sa.Column("token_hash", text(length=64), nullable=True))
    op.execute(
        "UPDATE employee SET token_hash = (SELECT t.token_hash FROM employeetoken t "
        "WHERE t.employee_id = employee.id AND t.revoked_at IS NULL "
        "ORDER BY t.id DESC LIMIT 1)"
    )
    op.execute(
        "UPDATE employee SET token_hash = 'none-' || CAST(id AS VARCHAR(20)) "
        "WHERE token_hash IS NULL"
    )
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("employee", "token_hash", existing_type=text(length=64), nullable=False)
    op.create_index("ix_employee_token_hash", "employee", ["token_hash"], unique=True)
    op.drop_table("employeetoken")
