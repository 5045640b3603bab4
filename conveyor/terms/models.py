"""Payment terms templates (net days, early-payment discount, deposit): table and API shapes."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Self

from pydantic import BeforeValidator, StringConstraints, model_validator
from sqlalchemy import Column, Numeric
from sqlmodel import Field, SQLModel

from conveyor.core.models import timestamp_field

TermsCode = Annotated[
    str,
    BeforeValidator(lambda value: value.strip().upper() if isinstance(value, str) else value),
    StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9_\-]{0,15}$"),
]
Percent = Annotated[Decimal, Field(gt=0, lt=100, decimal_places=2, max_digits=5)]
DepositPercent = Annotated[Decimal, Field(gt=0, le=100, decimal_places=2, max_digits=5)]


def _percent_column() -> Column:
    return Column(Numeric(5, 2), nullable=True)


class PaymentTermsBase(SQLModel):
    code: str = Field(max_length=16, unique=True, index=True)
    name: str = Field(default="", max_length=200)
    # An invoice falls due this many days after it is issued.
    net_days: int = Field(default=30, ge=0, le=365)
    # Early-payment discount: this percent off when paid within `discount_days` of issue.
    discount_percent: Decimal | None = Field(default=None, sa_column=_percent_column())
    discount_days: int | None = Field(default=None, ge=0, le=365)
    # Deposit: this percent of the order is due before fulfilment (recorded and shown).
    deposit_percent: Decimal | None = Field(default=None, sa_column=_percent_column())


class PaymentTermsCreate(SQLModel):
    code: TermsCode
    name: str = Field(default="", max_length=200)
    net_days: int = Field(default=30, ge=0, le=365)
    discount_percent: Percent | None = None
    discount_days: int | None = Field(default=None, ge=0, le=365)
    deposit_percent: DepositPercent | None = None

    @model_validator(mode="after")
    def _discount_pair(self) -> Self:
        if (self.discount_percent is None) != (self.discount_days is None):
            raise ValueError("an early-payment discount needs both its percent and its days")
        if self.discount_days is not None and self.discount_days > self.net_days:
            raise ValueError("the discount days cannot be longer than the net days")
        return self


class PaymentTermsUpdate(SQLModel):
    """A PATCH: only the fields sent change (the code stays: customers name it)."""

    name: str | None = Field(default=None, max_length=200)
    net_days: int | None = Field(default=None, ge=0, le=365)
    discount_percent: Decimal | None = None
    discount_days: int | None = None
    deposit_percent: Decimal | None = None


class PaymentTerms(PaymentTermsBase, table=True):
    """A terms template (`NET30`, `NET14-2`); customers name it by `code`."""

    __tablename__ = "paymentterms"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = timestamp_field()
    # Retired: kept for the customers and invoices that name it, no longer offered.
    retired_at: datetime | None = timestamp_field(nullable=True, default_now=False)


class PaymentTermsPublic(PaymentTermsBase):
    id: int
    description: str = ""
    retired_at: datetime | None = None
