"""Supplier invoices against stock purchase orders: the invoice, its lines with the three-way
match result, and API shapes."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import StringConstraints
from sqlalchemy import JSON, Numeric, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from conveyor.core.models import money_field, timestamp_field
from conveyor.purchasing.models import Currency, Sku

# The step of a held supplier invoice's task (approved: posted; rejected: refused).
INVOICE_MATCH_STEP = "invoice_match"
# The supplier's own invoice number, as printed on its invoice.
SupplierNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
]
# Why a person approved or rejected an invoice the match held.
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class SupplierInvoiceStatus(StrEnum):
    HELD = "held"  # a difference beyond the tolerance: waits for a person's decision
    APPROVED = "approved"  # matched, or approved anyway: posted as a payable
    REJECTED = "rejected"  # refused: nothing posted, the supplier is asked for a new one
    PAID = "paid"  # approved and paid to the supplier


class SupplierInvoice(SQLModel, table=True):
    """A supplier's invoice for (part of) a stock purchase order; `number` is ours (SINV-…)."""

    __tablename__ = "supplierinvoice"
    __table_args__ = (
        UniqueConstraint("supplier_id", "supplier_number", name="uq_supplierinvoice_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str | None = Field(default=None, max_length=32, unique=True, index=True)
    supplier_id: int = Field(foreign_key="supplier.id", index=True)
    supplier_number: str = Field(max_length=64)
    purchase_order_id: int = Field(foreign_key="purchaseorder.id", index=True)
    invoice_date: date
    due_date: date
    currency: str = Field(max_length=3)
    net_total: Decimal = money_field()
    tax_total: Decimal = money_field()
    total: Decimal = money_field()
    status: str = Field(default=SupplierInvoiceStatus.HELD, max_length=16, index=True)
    # What the match found beyond the tolerance, one sentence each (empty: matched).
    differences: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    task_id: int | None = Field(default=None, foreign_key="task.id")
    created_at: datetime = timestamp_field()
    created_by: str = Field(max_length=320)
    # Approved (by the match or a person): the payable's journal date.
    approved_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    decided_by: str | None = Field(default=None, max_length=320)
    decision_reason: str | None = Field(default=None, max_length=2000)
    paid_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    payment_method: str | None = Field(default=None, max_length=32)
    payment_reference: str | None = Field(default=None, max_length=200)


class SupplierInvoiceLine(SQLModel, table=True):
    """One invoiced purchase order line, with what the match compared it against."""

    __tablename__ = "supplierinvoiceline"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="supplierinvoice.id", index=True)
    po_line_id: int = Field(foreign_key="purchaseorderline.id", index=True)
    sku: str = Field(max_length=64)
    qty: int
    unit_price: Decimal = Field(sa_column=Column(Numeric(14, 4), nullable=False))
    tax_rate: Decimal = Field(sa_column=Column(Numeric(5, 2), nullable=False))
    net: Decimal = money_field()
    tax: Decimal = money_field()
    # At entry: the line's ordered and received quantities, what earlier invoices took of it,
    # and the purchase order's net unit price.
    ordered_qty: int
    received_qty: int
    invoiced_before: int
    po_unit_price: Decimal = Field(sa_column=Column(Numeric(14, 4), nullable=False))
    differences: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class SupplierInvoiceLineIn(SQLModel):
    sku: Sku  # the purchase order line it bills
    qty: int = Field(gt=0, le=1_000_000)
    unit_price: Decimal = Field(ge=0, max_digits=14, decimal_places=4)
    tax_rate: Decimal | None = Field(default=None, ge=0, le=100, decimal_places=2)  # unset: PO's


class SupplierInvoiceCreate(SQLModel):
    """A supplier's invoice as entered from its paper or PDF."""

    purchase_order: str = Field(min_length=1, max_length=32)
    supplier_number: SupplierNumber
    invoice_date: date
    currency: Currency | None = None  # unset: the purchase order's (it must be that one)
    # The total printed on the invoice; unset: taken as the lines add up.
    total: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    lines: list[SupplierInvoiceLineIn] = Field(min_length=1, max_length=200)


class SupplierInvoiceDecision(SQLModel):
    reason: Reason


class SupplierPaymentIn(SQLModel):
    """The invoice paid to the supplier in full."""

    paid_on: date | None = None  # unset: today
    method: str = Field(default="bank_transfer", min_length=1, max_length=32)
    reference: str | None = Field(default=None, max_length=200)


class SupplierInvoiceLinePublic(SQLModel):
    sku: str
    qty: int
    unit_price: Decimal
    tax_rate: Decimal
    net: Decimal
    tax: Decimal
    ordered_qty: int
    received_qty: int
    invoiced_before: int
    po_unit_price: Decimal
    matched: bool
    differences: list[str]


class SupplierInvoicePublic(SQLModel):
    number: str
    supplier: str
    supplier_number: str
    purchase_order: str
    invoice_date: date
    due_date: date
    currency: str
    net_total: Decimal
    tax_total: Decimal
    total: Decimal
    status: str
    matched: bool
    differences: list[str]
    task_id: int | None
    created_at: datetime
    created_by: str
    approved_at: datetime | None
    decided_by: str | None
    decision_reason: str | None
    paid_at: datetime | None
    payment_reference: str | None
    lines: list[SupplierInvoiceLinePublic]


class SupplierInvoicesPublic(SQLModel):
    data: list[SupplierInvoicePublic]
    count: int
