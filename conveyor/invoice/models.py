"""Invoice and payment tables, plus API shapes."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, Numeric
from sqlmodel import Field, SQLModel

from conveyor.core.models import money_field, timestamp_field

# The method of the payment row an early-payment discount is recorded as: it settles the
# invoice like money received, and the journal posts it to the discounts account.
DISCOUNT_METHOD = "discount"


class Counter(SQLModel, table=True):
    """A named gap-free sequence (invoice numbers), advanced inside the caller's transaction."""

    name: str = Field(primary_key=True, max_length=64)
    value: int = 0


class Invoice(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    key: str = Field(max_length=200, unique=True)
    order_id: int = Field(foreign_key="salesorder.id", index=True)
    currency: str = Field(max_length=3)
    subtotal: Decimal = money_field()
    tax: Decimal = money_field()
    total: Decimal = money_field()
    # total = subtotal + charges (+ tax unless the prices include it).
    charges: Decimal = money_field()
    prices_include_tax: bool = False
    issued_at: datetime = timestamp_field()
    # The customer's payment terms at issue (None: net days only, or issued before 0033).
    terms_code: str | None = Field(default=None, max_length=16)
    # Due at issue + the terms' net days; None (before 0033): issued_at + the customer's days.
    due_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    # Early-payment discount: paying `total - discount_amount` until this day settles it.
    discount_until: datetime | None = timestamp_field(nullable=True, default_now=False)
    discount_amount: Decimal = money_field()
    # What the terms ask as a deposit before fulfilment (shown; not enforced by the workflow).
    deposit_amount: Decimal = money_field()


class InvoiceLine(SQLModel, table=True):
    """One line of an invoice as issued: goods (`item`) or a shipping/special charge."""

    __tablename__ = "invoiceline"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    kind: str = Field(max_length=16)  # item | shipping | special
    sku: str | None = Field(default=None, max_length=64)
    description: str = Field(default="", max_length=200)
    qty: int = 1
    unit_price: Decimal = money_field()
    amount: Decimal = money_field()
    price_rule: str | None = Field(default=None, max_length=200)
    tax_class: str = Field(default="standard", max_length=32)
    tax_rate: Decimal = Field(default=Decimal("0"), sa_column=Column(Numeric(9, 4), nullable=False))
    tax_amount: Decimal = money_field()


class CreditNote(SQLModel, table=True):
    """A credit note cancelling an invoice in full (cancel, return)."""

    __tablename__ = "creditnote"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    key: str = Field(max_length=200, unique=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    order_id: int = Field(foreign_key="salesorder.id", index=True)
    currency: str = Field(max_length=3)
    subtotal: Decimal = money_field()
    charges: Decimal = money_field()
    tax: Decimal = money_field()
    total: Decimal = money_field()
    reason: str = Field(default="", max_length=500)
    issued_at: datetime = timestamp_field()


class CreditNoteLine(SQLModel, table=True):
    """One line of a partial credit note (a return): goods credited from one invoice line.

    A credit note without lines credits its whole invoice (cancel); one with lines credits only
    them, at the prices and tax rates they were invoiced at.
    """

    __tablename__ = "creditnoteline"

    id: int | None = Field(default=None, primary_key=True)
    credit_note_id: int = Field(foreign_key="creditnote.id", index=True)
    invoice_line_id: int | None = Field(default=None, foreign_key="invoiceline.id", index=True)
    kind: str = Field(default="item", max_length=16)
    sku: str | None = Field(default=None, max_length=64)
    description: str = Field(default="", max_length=200)
    qty: int = 1
    unit_price: Decimal = money_field()
    amount: Decimal = money_field()
    tax_class: str = Field(default="standard", max_length=32)
    tax_rate: Decimal = Field(default=Decimal("0"), sa_column=Column(Numeric(9, 4), nullable=False))
    tax_amount: Decimal = money_field()


class InvoiceLinePublic(SQLModel):
    kind: str
    sku: str | None
    description: str
    qty: int
    unit_price: Decimal
    amount: Decimal
    price_rule: str | None
    tax_rate: Decimal
    tax_amount: Decimal


class InvoicePublic(SQLModel):
    number: str
    currency: str
    subtotal: Decimal
    charges: Decimal = Decimal("0.00")
    tax: Decimal
    prices_include_tax: bool = False
    total: Decimal
    issued_at: datetime
    terms_code: str | None = None
    due_at: datetime | None = None
    discount_until: datetime | None = None
    discount_amount: Decimal = Decimal("0.00")
    deposit_amount: Decimal = Decimal("0.00")


class InvoiceDetail(InvoicePublic):
    order_number: str
    due_on: date | None = None  # due_at, or for older invoices issued_at + the terms' days
    terms: str = ""  # the terms in words
    lines: list[InvoiceLinePublic]


class CreditNotePublic(SQLModel):
    number: str
    invoice_number: str
    currency: str
    subtotal: Decimal
    charges: Decimal
    tax: Decimal
    total: Decimal
    reason: str
    issued_at: datetime


class Payment(SQLModel, table=True):
    """Money received for an order (full, partial or over)."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    order_id: int = Field(foreign_key="salesorder.id", index=True)
    amount: Decimal = money_field()
    currency: str = Field(max_length=3)
    method: str = Field(default="manual", max_length=32)
    reference: str | None = Field(default=None, max_length=200)
    received_at: datetime = timestamp_field()
    recorded_by: str | None = Field(default=None, max_length=200)  # None: before 0028
    # Money for an order that owed nothing, kept as the customer's credit (said so explicitly).
    customer_credit: bool = False


class PaymentCreate(SQLModel):
    amount: Decimal = Field(gt=0, decimal_places=2, max_digits=14)
    method: str = Field(default="manual", min_length=1, max_length=32)
    reference: str | None = Field(default=None, max_length=200)
    # An order that owes nothing refuses a payment unless it is kept as the customer's credit.
    customer_credit: bool = False


class PaymentPublic(SQLModel):
    amount: Decimal
    currency: str
    method: str
    reference: str | None
    received_at: datetime
    recorded_by: str | None = None
    customer_credit: bool = False
