"""outbound webhooks: subscriptions, events and their deliveries

Other systems subscribe to events (order.created, order.shipped, ...); each event is written
with its effect (a transactional outbox) and delivered to each subscriber, signed, with retries.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-02 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import conveyor.core.models

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    timestamp = conveyor.core.models.UTCDateTime(timezone=True)
    op.create_table(
        "outboundsubscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", text(length=2000), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("secret", text(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("description", text(length=500), nullable=False),
        sa.Column("created_at", timestamp, nullable=False),
        sa.Column("updated_at", timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "outboundevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", text(length=40), nullable=False),
        sa.Column("key", text(length=250), nullable=True),
        sa.Column("type", text(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_outboundevent_type", "outboundevent", ["type"])
    op.create_table(
        "outbounddelivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("status", text(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("replays", sa.Integer(), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", text(length=2000), nullable=True),
        sa.Column("next_attempt_at", timestamp, nullable=True),
        sa.Column("claimed_until", timestamp, nullable=True),
        sa.Column("retry_from", timestamp, nullable=False),
        sa.Column("created_at", timestamp, nullable=False),
        sa.Column("delivered_at", timestamp, nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["outboundevent.id"]),
        sa.ForeignKeyConstraint(["subscription_id"], ["outboundsubscription.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "subscription_id", name="uq_outbounddelivery_event"),
    )
    op.create_index("ix_outbounddelivery_event_id", "outbounddelivery", ["event_id"])
    op.create_index("ix_outbounddelivery_subscription_id", "outbounddelivery", ["subscription_id"])
    op.create_index("ix_outbounddelivery_status", "outbounddelivery", ["status"])


def downgrade() -> None:
    op.drop_index("ix_outbounddelivery_status", table_name="outbounddelivery")
    op.drop_index("ix_outbounddelivery_subscription_id", table_name="outbounddelivery")
    op.drop_index("ix_outbounddelivery_event_id", table_name="outbounddelivery")
    op.drop_table("outbounddelivery")
    op.drop_index("ix_outboundevent_type", table_name="outboundevent")
    op.drop_table("outboundevent")
    op.drop_table("outboundsubscription")
