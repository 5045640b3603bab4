"""outbox dispatch: who sends a row (dispatcher or its activity), its backoff and its claim

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 00:25:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import conveyor.core.models

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outboxmessage", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("dispatch", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(
            sa.Column(
                "next_attempt_at", conveyor.core.models.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "claimed_until", conveyor.core.models.UTCDateTime(timezone=True), nullable=True
            )
        )
    # Rows stored before this revision belong to the send_notification activity that stored
    # them (it retries until sent); the dispatcher must not become their second sender.
    outbox = sa.table("outboxmessage", sa.column("dispatch", sa.Boolean()))
    op.execute(outbox.update().values(dispatch=False))


def downgrade() -> None:
    with op.batch_alter_table("outboxmessage", schema=None) as batch_op:
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("dispatch")
