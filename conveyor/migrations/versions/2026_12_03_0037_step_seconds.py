"""step seconds: each step completion carries how long its step took

The reports' and the monitor's step durations paired every start with its completion on each
view (a window over all the period's trail events: the bulk of `/monitor` at 300,000 orders).
A completion now records its duration when the trail writes it; this fills it in for the
completions written before, paired as the trail pairs them: with the entry just before it of
its order and step, when that one is a start.

Revision ID: 0037
Revises: 0035
Create Date: 2026-12-03 17:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0037"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAIRED = """
    SELECT id, kind, at,
           lag(kind) OVER (PARTITION BY order_id, step ORDER BY id) AS before_kind,
           lag(at) OVER (PARTITION BY order_id, step ORDER BY id) AS before_at
    FROM orderevent
    WHERE kind IN ('step_started', 'step_completed') AND step IS NOT NULL
"""
# To the millisecond, as the trail writes them (julianday carries about that much).
SECONDS = {
    "postgresql": "ROUND(EXTRACT(EPOCH FROM paired.at - paired.before_at)::numeric, 3)",
    "sqlite": "ROUND((julianday(paired.at) - julianday(paired.before_at)) * 86400.0, 3)",
}


def upgrade() -> None:
    with op.batch_alter_table("orderevent") as batch:
        batch.add_column(sa.Column("seconds", sa.Float(), nullable=True))
    seconds = SECONDS[op.get_bind().dialect.name]
    op.execute(
        f"""
        UPDATE orderevent SET seconds = {seconds}
        FROM ({PAIRED}) AS paired
        WHERE orderevent.id = paired.id
          AND paired.kind = 'step_completed' AND paired.before_kind = 'step_started'
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("orderevent") as batch:
        batch.drop_column("seconds")
