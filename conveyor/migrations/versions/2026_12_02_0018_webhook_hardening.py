"""webhook hardening: delivery metadata, dedupe, store-created customers

Deliveries get their size, client address and a repeat count, and are unique per (provider,
store, delivery id): earlier repeats keep their row with the id suffixed. Store orders remember
the store's `updated_at` of the last update applied. Customers record the store that created
them (backfilled from their first order) and whether their e-mail is verified.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import sqlmodel
from alembic import op

import conveyor.core.models

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

text = sqlmodel.sql.sqltypes.AutoString
# A customer created by a webhook is written in the same transaction as its first order.
SAME_TRANSACTION = timedelta(seconds=10)


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("webhookdelivery", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("body_size", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("source", text(length=64), nullable=True))
        batch_op.add_column(sa.Column("repeats", sa.Integer(), nullable=False, server_default="0"))
    length = "octet_length" if bind.dialect.name == "postgresql" else "length"
    op.execute(f"UPDATE webhookdelivery SET body_size = {length}(body)")
    # Repeats stored before the dedupe keep their rows, their id marked as a repeat.
    op.execute(
        "UPDATE webhookdelivery SET delivery_id = substr(delivery_id, 1, 100) || ':repeat:' || id "
        "WHERE store IS NOT NULL AND delivery_id IS NOT NULL AND id NOT IN ("
        "SELECT min(id) FROM webhookdelivery WHERE store IS NOT NULL AND delivery_id IS NOT NULL "
        "GROUP BY provider, store, delivery_id)"
    )
    with op.batch_alter_table("webhookdelivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhookdelivery_source"), ["source"], unique=False)
        batch_op.create_index("ix_webhookdelivery_received_at", ["received_at"], unique=False)
        batch_op.create_unique_constraint(
            "uq_webhookdelivery_delivery", ["provider", "store", "delivery_id"]
        )

    with op.batch_alter_table("storeorder", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "store_updated_at",
                conveyor.core.models.UTCDateTime(timezone=True),
                nullable=True,
            )
        )

    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_by_store", text(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("email_verified", sa.Boolean(), nullable=False, server_default="0")
        )

    # Customers a store's webhook created: their first order came from that store, written
    # with the customer. A staff-created customer was there before its first order.
    firsts = bind.execute(
        sa.text(
            "SELECT c.id, c.created_at, o.created_by, o.created_at FROM customer c "
            "JOIN salesorder o ON o.id = (SELECT min(f.id) FROM salesorder f "
            "WHERE f.customer_id = c.id) WHERE o.created_by LIKE 'webhook:%'"
        )
    ).all()
    for customer_id, customer_created, created_by, order_created in firsts:
        if _aware(customer_created) < _aware(order_created) - SAME_TRANSACTION:
            continue
        bind.execute(
            sa.text("UPDATE customer SET created_by_store = :store WHERE id = :id"),
            {"store": created_by.removeprefix("webhook:")[:40], "id": customer_id},
        )


def downgrade() -> None:
    # Not a batch: rebuilding `customer` on SQLite would drop a table that orders point at.
    op.drop_column("customer", "email_verified")
    op.drop_column("customer", "created_by_store")

    with op.batch_alter_table("storeorder", schema=None) as batch_op:
        batch_op.drop_column("store_updated_at")

    with op.batch_alter_table("webhookdelivery", schema=None) as batch_op:
        batch_op.drop_constraint("uq_webhookdelivery_delivery", type_="unique")
        batch_op.drop_index("ix_webhookdelivery_received_at")
        batch_op.drop_index(batch_op.f("ix_webhookdelivery_source"))
        batch_op.drop_column("repeats")
        batch_op.drop_column("source")
        batch_op.drop_column("body_size")
