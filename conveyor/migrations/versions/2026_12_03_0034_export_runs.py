"""export runs: what was exported to which accounting package when, with the file itself

Revision ID: 0034
Revises: 0032
Create Date: 2026-12-03 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import conveyor.core.models

revision: str = "0034"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    timestamp = conveyor.core.models.UTCDateTime(timezone=True)
    op.create_table(
        "exportrun",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("package", text(length=32), nullable=False),
        sa.Column("created_at", timestamp, nullable=False),
        sa.Column("created_by", text(length=320), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("documents", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("filename", text(length=200), nullable=False),
        sa.Column("media_type", text(length=100), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", text(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_exportrun_package", "exportrun", ["package"])
    op.create_table(
        "exporteddocument",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("package", text(length=32), nullable=False),
        sa.Column("kind", text(length=16), nullable=False),
        sa.Column("document", text(length=64), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["exportrun.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("package", "kind", "document", name="uq_exporteddocument_document"),
    )
    op.create_index("ix_exporteddocument_run_id", "exporteddocument", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_exporteddocument_run_id", table_name="exporteddocument")
    op.drop_table("exporteddocument")
    op.drop_index("ix_exportrun_package", table_name="exportrun")
    op.drop_table("exportrun")
