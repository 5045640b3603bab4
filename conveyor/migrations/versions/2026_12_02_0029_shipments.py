"""shipments and deliveries: carrier, tracking, delivered, proof of delivery

One shipment per packing of an order (per shipment of a partial order) and per drop-ship
purchase order, with its lines, carrier, tracking, delivery and proof of delivery.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-02 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import conveyor.core.models

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _when() -> conveyor.core.models.UTCDateTime:
    return conveyor.core.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "shipment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", _text(200), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("order_number", _text(32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", _text(16), nullable=False),
        sa.Column("warehouse", _text(16), nullable=True),
        sa.Column("purchase_order_number", _text(32), nullable=True),
        sa.Column("carrier", _text(64), nullable=True),
        sa.Column("service", _text(64), nullable=True),
        sa.Column("tracking", _text(200), nullable=True),
        sa.Column("tracking_url", _text(500), nullable=True),
        sa.Column("packages", sa.Integer(), nullable=True),
        sa.Column("weight_kg", sa.Numeric(10, 3), nullable=True),
        sa.Column("shipped_at", _when(), nullable=True),
        sa.Column("delivered_at", _when(), nullable=True),
        sa.Column("signed_by", _text(200), nullable=True),
        sa.Column("delivery_note", _text(1000), nullable=True),
        sa.Column("failure_reason", _text(1000), nullable=True),
        sa.Column("created_at", _when(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["salesorder.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
        sa.UniqueConstraint("order_id", "number", name="uq_shipment_order_number"),
    )
    op.create_index(op.f("ix_shipment_order_id"), "shipment", ["order_id"])
    op.create_index(op.f("ix_shipment_order_number"), "shipment", ["order_number"])
    op.create_index(op.f("ix_shipment_status"), "shipment", ["status"])
    op.create_table(
        "shipmentline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("sku", _text(64), nullable=False),
        sa.Column("name", _text(200), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["shipment_id"], ["shipment.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_shipmentline_shipment_id"), "shipmentline", ["shipment_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_shipmentline_shipment_id"), table_name="shipmentline")
    op.drop_table("shipmentline")
    op.drop_index(op.f("ix_shipment_status"), table_name="shipment")
    op.drop_index(op.f("ix_shipment_order_number"), table_name="shipment")
    op.drop_index(op.f("ix_shipment_order_id"), table_name="shipment")
    op.drop_table("shipment")
