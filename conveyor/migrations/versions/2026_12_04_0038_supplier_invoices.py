"""supplier invoices: matched three ways against their purchase order, held with a task

Supplier invoices (unique per supplier and its invoice number) with lines per purchase order
line, each keeping what the match compared it with. A task may now be about something other
than an order (a held supplier invoice): its order is optional, `subject` names what it is
about and `details` what to look at.

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-04 01:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import conveyor.core.models

revision: str = "0038"
down_revision: str | None = "0040"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

text = sqlmodel.sql.sqltypes.AutoString
timestamp = conveyor.core.models.UTCDateTime(timezone=True)
OPEN = sa.text("status = 'open'")
POOL = sa.text("status = 'open' AND assignee_id IS NULL")
COMPLETED = sa.text("status = 'completed'")
# The task table's partial indexes (migration 0032). SQLite rebuilds the table to let its
# order be null, and a rebuild would copy them without their WHERE: they are dropped before it
# and created again after.
PARTIAL: list[tuple[str, list[str], sa.TextClause]] = [
    ("ix_task_open_assignee_due", ["assignee_id", "due_at", "id"], OPEN),
    ("ix_task_open_role_due", ["role", "due_at", "id"], OPEN),
    ("ix_task_pool_role_due", ["role", "due_at", "id"], POOL),
    ("ix_task_open_due", ["due_at", "id"], OPEN),
    ("ix_task_completed_at", ["completed_at"], COMPLETED),
]


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _partial_indexes(create: bool) -> None:
    for name, columns, where in PARTIAL:
        if create:
            include = ["completed_by", "due_at"] if name == "ix_task_completed_at" else []
            op.create_index(
                name,
                "task",
                columns,
                postgresql_where=where,
                sqlite_where=where,
                postgresql_include=include,
            )
        else:
            op.drop_index(name, table_name="task")


def _task_order(optional: bool) -> None:
    sqlite = _sqlite()
    if sqlite:
        _partial_indexes(create=False)
    with op.batch_alter_table("task", schema=None) as batch_op:
        if optional:
            batch_op.add_column(sa.Column("subject", text(length=32), nullable=True))
            batch_op.add_column(sa.Column("details", text(length=2000), nullable=True))
        else:
            batch_op.drop_column("details")
            batch_op.drop_column("subject")
        batch_op.alter_column("order_id", existing_type=sa.Integer(), nullable=optional)
        batch_op.alter_column("order_number", existing_type=text(length=32), nullable=optional)
    if sqlite:
        _partial_indexes(create=True)


def upgrade() -> None:
    _task_order(optional=True)
    op.create_table(
        "supplierinvoice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", text(length=32), nullable=True),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("supplier_number", text(length=64), nullable=False),
        sa.Column("purchase_order_id", sa.Integer(), nullable=False),
        sa.Column("invoice_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("currency", text(length=3), nullable=False),
        sa.Column("net_total", sa.Numeric(14, 2), nullable=False),
        sa.Column("tax_total", sa.Numeric(14, 2), nullable=False),
        sa.Column("total", sa.Numeric(14, 2), nullable=False),
        sa.Column("status", text(length=16), nullable=False),
        sa.Column("differences", sa.JSON(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("created_at", timestamp, nullable=False),
        sa.Column("created_by", text(length=320), nullable=False),
        sa.Column("approved_at", timestamp, nullable=True),
        sa.Column("decided_by", text(length=320), nullable=True),
        sa.Column("decision_reason", text(length=2000), nullable=True),
        sa.Column("paid_at", timestamp, nullable=True),
        sa.Column("payment_method", text(length=32), nullable=True),
        sa.Column("payment_reference", text(length=200), nullable=True),
        sa.ForeignKeyConstraint(["supplier_id"], ["supplier.id"]),
        sa.ForeignKeyConstraint(["purchase_order_id"], ["purchaseorder.id"]),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("supplier_id", "supplier_number", name="uq_supplierinvoice_number"),
    )
    op.create_index("ix_supplierinvoice_number", "supplierinvoice", ["number"], unique=True)
    op.create_index("ix_supplierinvoice_supplier_id", "supplierinvoice", ["supplier_id"])
    op.create_index(
        "ix_supplierinvoice_purchase_order_id", "supplierinvoice", ["purchase_order_id"]
    )
    op.create_index("ix_supplierinvoice_status", "supplierinvoice", ["status"])
    op.create_table(
        "supplierinvoiceline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("po_line_id", sa.Integer(), nullable=False),
        sa.Column("sku", text(length=64), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(14, 4), nullable=False),
        sa.Column("tax_rate", sa.Numeric(5, 2), nullable=False),
        sa.Column("net", sa.Numeric(14, 2), nullable=False),
        sa.Column("tax", sa.Numeric(14, 2), nullable=False),
        sa.Column("ordered_qty", sa.Integer(), nullable=False),
        sa.Column("received_qty", sa.Integer(), nullable=False),
        sa.Column("invoiced_before", sa.Integer(), nullable=False),
        sa.Column("po_unit_price", sa.Numeric(14, 4), nullable=False),
        sa.Column("differences", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["invoice_id"], ["supplierinvoice.id"]),
        sa.ForeignKeyConstraint(["po_line_id"], ["purchaseorderline.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_supplierinvoiceline_invoice_id", "supplierinvoiceline", ["invoice_id"])
    op.create_index("ix_supplierinvoiceline_po_line_id", "supplierinvoiceline", ["po_line_id"])


def downgrade() -> None:
    op.drop_table("supplierinvoiceline")
    op.drop_table("supplierinvoice")
    # Tasks about no order cannot stay once every task needs one.
    op.execute("DELETE FROM task WHERE order_id IS NULL")
    _task_order(optional=False)
