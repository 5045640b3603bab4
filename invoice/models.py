"""Invoice and payment tables, plus API shapes."""

from datetime import datetime
from decimal import Decimal

from sqlmodel import Field, SQLModel

from core.models import money_field, timestamp_field


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
    issued_at: datetime = timestamp_field()


class InvoicePublic(SQLModel):
    number: str
    currency: str
    subtotal: Decimal
    tax: Decimal
    total: Decimal
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


class PaymentCreate(SQLModel):
    amount: Decimal = Field(gt=0, decimal_places=2, max_digits=14)
    method: str = Field(default="manual", min_length=1, max_length=32)
    reference: str | None = Field(default=None, max_length=200)


class PaymentPublic(SQLModel):
    amount: Decimal
    currency: str
    method: str
    reference: str | None
    received_at: datetime
