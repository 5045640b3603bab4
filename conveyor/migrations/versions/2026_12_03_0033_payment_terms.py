"""payment terms: terms templates, a customer's template, invoice due dates and discounts

Templates hold net days, an optional early-payment discount (percent within days) and an optional
deposit percent. Each day count customers have today becomes a template (`NET30`, `NET0`...)
that those customers get, so nothing about their terms changes. Invoices get their due date,
discount date and amount and deposit at issue; older ones stay NULL and are read as issued_at +
the customer's days.

Revision ID: 0033
Revises: 0036
Create Date: 2026-12-03 17:00:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

import conveyor.core.models

revision: str = "0033"
down_revision: str | None = "0036"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    timestamp = conveyor.core.models.UTCDateTime(timezone=True)
    terms = op.create_table(
        "paymentterms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", text(length=16), nullable=False),
        sa.Column("name", text(length=200), nullable=False),
        sa.Column("net_days", sa.Integer(), nullable=False),
        sa.Column("discount_percent", sa.Numeric(5, 2), nullable=True),
        sa.Column("discount_days", sa.Integer(), nullable=True),
        sa.Column("deposit_percent", sa.Numeric(5, 2), nullable=True),
        sa.Column("created_at", timestamp, nullable=False),
        sa.Column("retired_at", timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_paymentterms_code", "paymentterms", ["code"], unique=True)
    if op.get_bind().dialect.name == "sqlite":
        # In place: a batch table rebuild would trip over the foreign keys of existing orders.
        op.execute(
            "ALTER TABLE customer ADD COLUMN payment_terms_code VARCHAR(16) "
            "CONSTRAINT fk_customer_payment_terms_code REFERENCES paymentterms (code)"
        )
    else:
        op.add_column("customer", sa.Column("payment_terms_code", text(length=16), nullable=True))
        op.create_foreign_key(
            "fk_customer_payment_terms_code",
            "customer",
            "paymentterms",
            ["payment_terms_code"],
            ["code"],
        )
    # In place too: nothing to rebuild, and credit notes and payments keep pointing at invoices.
    op.add_column("invoice", sa.Column("terms_code", text(length=16), nullable=True))
    op.add_column("invoice", sa.Column("due_at", timestamp, nullable=True))
    op.add_column("invoice", sa.Column("discount_until", timestamp, nullable=True))
    for name in ("discount_amount", "deposit_amount"):
        money = sa.Column(name, sa.Numeric(14, 2), nullable=False, server_default="0")
        op.add_column("invoice", money)
    # The day counts in use become templates, and their customers get them.
    bind = op.get_bind()
    days = bind.execute(sa.text("SELECT DISTINCT payment_terms_days FROM customer")).scalars()
    now = datetime.now(UTC)
    rows = [
        {
            "code": f"NET{n}",
            "name": "Payment in advance" if n == 0 else f"{n} days net",
            "net_days": n,
            "created_at": now,
        }
        for n in sorted(days)
    ]
    if rows:
        op.bulk_insert(terms, rows)
        code = "'NET' || CAST(payment_terms_days AS VARCHAR(8))"
        bind.execute(sa.text(f"UPDATE customer SET payment_terms_code = {code}"))


def downgrade() -> None:
    # In place (no rebuild of a table that credit notes and payments point at).
    for name in ("deposit_amount", "discount_amount", "discount_until", "due_at", "terms_code"):
        op.drop_column("invoice", name)
    with op.batch_alter_table("customer") as batch:
        # SQLite does not name the in-place column's constraint: the rebuild leaves it out.
        if op.get_bind().dialect.name != "sqlite":
            batch.drop_constraint("fk_customer_payment_terms_code", type_="foreignkey")
        batch.drop_column("payment_terms_code")
    op.drop_index("ix_paymentterms_code", table_name="paymentterms")
    op.drop_table("paymentterms")
