"""buying side: suppliers, their prices, stock purchase orders with receipts, moving-average
cost, reorder quantities

Revision ID: 0036
Revises: 0034
Create Date: 2026-12-03 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import conveyor.core.models

revision: str = "0036"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

text = sqlmodel.sql.sqltypes.AutoString
timestamp = conveyor.core.models.UTCDateTime(timezone=True)
LINE_COLUMNS = "id, purchase_order_id, sku, name, qty"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    op.create_table(
        "supplier",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", text(length=32), nullable=False),
        sa.Column("name", text(length=200), nullable=False),
        sa.Column("email", text(length=320), nullable=False),
        sa.Column("contact_name", text(length=200), nullable=False),
        sa.Column("phone", text(length=50), nullable=False),
        sa.Column("address", text(length=500), nullable=False),
        sa.Column("payment_terms_days", sa.Integer(), nullable=False),
        sa.Column("currency", text(length=3), nullable=False),
        sa.Column("lead_time_days", sa.Integer(), nullable=False),
        sa.Column("created_at", timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_supplier_code", "supplier", ["code"], unique=True)
    op.create_index("ix_supplier_email", "supplier", ["email"])
    op.create_table(
        "supplierprice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("sku", text(length=64), nullable=False),
        sa.Column("min_qty", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(14, 4), nullable=False),
        sa.Column("discount_percent", sa.Numeric(5, 2), server_default="0", nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("preferred", sa.Boolean(), nullable=False),
        sa.Column("created_at", timestamp, nullable=False),
        sa.ForeignKeyConstraint(["supplier_id"], ["supplier.id"]),
        sa.ForeignKeyConstraint(["sku"], ["product.sku"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("supplier_id", "sku", "min_qty", "valid_from"),
    )
    op.create_index("ix_supplierprice_supplier_id", "supplierprice", ["supplier_id"])
    op.create_index("ix_supplierprice_sku", "supplierprice", ["sku"])

    # SQLite rebuilds purchaseorder to let order_id be null and to add its foreign keys; the
    # lines that refer to it are set aside meanwhile (their foreign key refuses the drop).
    if _sqlite():
        op.execute(
            f"CREATE TABLE _keep_purchaseorderline AS SELECT {LINE_COLUMNS} FROM purchaseorderline"
        )
        op.execute("DELETE FROM purchaseorderline")
    with op.batch_alter_table("purchaseorder", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", text(length=16), server_default="drop_ship", nullable=False)
        )
        batch_op.alter_column("order_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("order_number", existing_type=text(length=32), nullable=True)
        batch_op.add_column(sa.Column("supplier_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("warehouse", text(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("currency", text(length=3), server_default="USD", nullable=False)
        )
        batch_op.add_column(sa.Column("expected_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("sent_at", timestamp, nullable=True))
        batch_op.create_index("ix_purchaseorder_supplier_id", ["supplier_id"])
        batch_op.create_foreign_key(
            "fk_purchaseorder_supplier_id_supplier", "supplier", ["supplier_id"], ["id"]
        )
        batch_op.create_foreign_key(
            "fk_purchaseorder_warehouse_warehouse", "warehouse", ["warehouse"], ["code"]
        )
    with op.batch_alter_table("purchaseorderline", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit_price", sa.Numeric(14, 4), nullable=True))
        batch_op.add_column(
            sa.Column("discount_percent", sa.Numeric(5, 2), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("tax_rate", sa.Numeric(5, 2), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("expected_date", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("received_qty", sa.Integer(), server_default="0", nullable=False)
        )
    if _sqlite():
        op.execute(
            f"INSERT INTO purchaseorderline ({LINE_COLUMNS}) "
            f"SELECT {LINE_COLUMNS} FROM _keep_purchaseorderline"
        )
        op.execute("DROP TABLE _keep_purchaseorderline")

    op.create_table(
        "purchasereceipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", text(length=200), nullable=False),
        sa.Column("purchase_order_id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("sku", text(length=64), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("warehouse", text(length=16), nullable=False),
        sa.Column("unit_cost", sa.Numeric(14, 4), nullable=False),
        sa.Column("reference", text(length=200), nullable=True),
        sa.Column("received_at", timestamp, nullable=False),
        sa.ForeignKeyConstraint(["purchase_order_id"], ["purchaseorder.id"]),
        sa.ForeignKeyConstraint(["line_id"], ["purchaseorderline.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index(
        "ix_purchasereceipt_purchase_order_id", "purchasereceipt", ["purchase_order_id"]
    )

    # Plain ADD COLUMN on both databases (no rebuild of these referenced tables).
    op.add_column(
        "product",
        sa.Column("average_cost", sa.Numeric(14, 4), server_default="0", nullable=False),
    )
    op.add_column("stockmovement", sa.Column("unit_cost", sa.Numeric(14, 4), nullable=True))
    op.add_column("stockbalance", sa.Column("reorder_qty", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stockbalance", schema=None) as batch_op:
        batch_op.drop_column("reorder_qty")
    op.drop_column("stockmovement", "unit_cost")
    op.drop_column("product", "average_cost")
    op.drop_index("ix_purchasereceipt_purchase_order_id", table_name="purchasereceipt")
    op.drop_table("purchasereceipt")
    op.execute(
        "DELETE FROM purchaseorderline WHERE purchase_order_id IN "
        "(SELECT id FROM purchaseorder WHERE order_id IS NULL)"
    )
    op.execute("DELETE FROM purchaseorder WHERE order_id IS NULL")
    if _sqlite():
        op.execute(
            f"CREATE TABLE _keep_purchaseorderline AS SELECT {LINE_COLUMNS} FROM purchaseorderline"
        )
        op.execute("DELETE FROM purchaseorderline")
    with op.batch_alter_table("purchaseorderline", schema=None) as batch_op:
        for column in (
            "received_qty",
            "expected_date",
            "tax_rate",
            "discount_percent",
            "unit_price",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("purchaseorder", schema=None) as batch_op:
        batch_op.drop_constraint("fk_purchaseorder_warehouse_warehouse", type_="foreignkey")
        batch_op.drop_constraint("fk_purchaseorder_supplier_id_supplier", type_="foreignkey")
        batch_op.drop_index("ix_purchaseorder_supplier_id")
        for column in ("sent_at", "expected_date", "currency", "warehouse", "supplier_id", "kind"):
            batch_op.drop_column(column)
        batch_op.alter_column("order_number", existing_type=text(length=32), nullable=False)
        batch_op.alter_column("order_id", existing_type=sa.Integer(), nullable=False)
    if _sqlite():
        op.execute(
            f"INSERT INTO purchaseorderline ({LINE_COLUMNS}) "
            f"SELECT {LINE_COLUMNS} FROM _keep_purchaseorderline"
        )
        op.execute("DROP TABLE _keep_purchaseorderline")
    op.drop_index("ix_supplierprice_sku", table_name="supplierprice")
    op.drop_index("ix_supplierprice_supplier_id", table_name="supplierprice")
    op.drop_table("supplierprice")
    op.drop_index("ix_supplier_email", table_name="supplier")
    op.drop_index("ix_supplier_code", table_name="supplier")
    op.drop_table("supplier")
