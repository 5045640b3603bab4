"""Price agreements, tax rates and shipping rates (tables), plus their API shapes."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import StringConstraints, model_validator
from sqlalchemy import Column, Numeric
from sqlmodel import Field, SQLModel

from conveyor.core.models import money_field, timestamp_field

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Country = Annotated[str, StringConstraints(pattern=r"^([A-Z]{2}|\*)$")]


def rate_field() -> Any:
    """A percentage column (e.g. 19.0000 for 19 %)."""
    return Field(default=Decimal("0"), sa_column=Column(Numeric(9, 4), nullable=False))


class AgreementScope(StrEnum):
    LINE = "line"  # sets a line's unit price (fixed price or discount off the list price)
    ORDER = "order"  # an order-level discount in percent


class PriceAgreementBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    scope: AgreementScope = AgreementScope.LINE
    priority: int = Field(default=0, ge=-1000, le=1000)
    # What it applies to: nothing set = every item / every customer.
    sku: str | None = Field(default=None, max_length=64)
    item_group: str | None = Field(default=None, max_length=50)
    customer_id: int | None = Field(default=None)
    customer_group: str | None = Field(default=None, max_length=50)
    # Quantity break (line scope) or minimum order amount (order scope).
    min_qty: int = Field(default=1, ge=1, le=1_000_000)
    min_amount: Decimal | None = Field(default=None, ge=0, decimal_places=2, max_digits=14)
    currency: str = Field(default="USD", max_length=3)
    valid_from: date | None = None
    valid_to: date | None = None
    # Exactly one of: a fixed unit price, a percentage off, an amount off the list price.
    unit_price: Decimal | None = Field(default=None, ge=0, decimal_places=2, max_digits=14)
    discount_percent: Decimal | None = Field(default=None, ge=0, le=100, decimal_places=4)
    discount_amount: Decimal | None = Field(default=None, ge=0, decimal_places=2, max_digits=14)
    active: bool = True


class PriceAgreementCreate(PriceAgreementBase):
    currency: Currency = "USD"
    customer_id: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_price_rule(self) -> "PriceAgreementCreate":
        rules = (self.unit_price, self.discount_percent, self.discount_amount)
        if sum(rule is not None for rule in rules) != 1:
            raise ValueError("give exactly one of unit_price, discount_percent, discount_amount")
        if self.scope == AgreementScope.ORDER and self.discount_percent is None:
            raise ValueError("an order-scope agreement is a discount_percent")
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


class PriceAgreementUpdate(SQLModel):
    """A PATCH: only the fields sent change (null clears a nullable one); the agreement that
    results is checked as a new one would be."""

    name: str | None = Field(default=None, max_length=200)
    scope: AgreementScope | None = None
    priority: int | None = None
    sku: str | None = Field(default=None, max_length=64)
    item_group: str | None = Field(default=None, max_length=50)
    customer_id: int | None = None
    customer_group: str | None = Field(default=None, max_length=50)
    min_qty: int | None = None
    min_amount: Decimal | None = Field(default=None, max_digits=14)
    currency: str | None = Field(default=None, max_length=3)
    valid_from: date | None = None
    valid_to: date | None = None
    unit_price: Decimal | None = Field(default=None, max_digits=14)
    discount_percent: Decimal | None = Field(default=None, max_digits=9)
    discount_amount: Decimal | None = Field(default=None, max_digits=14)
    active: bool | None = None


class PriceAgreementEnd(SQLModel):
    """Ending an agreement: the last day it applies (default: today)."""

    valid_to: date | None = None


class PriceAgreement(PriceAgreementBase, table=True):
    __tablename__ = "priceagreement"

    id: int | None = Field(default=None, primary_key=True)
    # Stored as a plain VARCHAR: SQLModel derives the column type from the annotation, and an
    # enum annotation would make it a database enum, so the table says `str`.
    scope: str = Field(default=AgreementScope.LINE, max_length=8)  # type: ignore[assignment]
    sku: str | None = Field(default=None, max_length=64, index=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    min_amount: Decimal | None = money_field(default=None)
    unit_price: Decimal | None = money_field(default=None)
    discount_percent: Decimal | None = Field(
        default=None, sa_column=Column(Numeric(9, 4), nullable=True)
    )
    discount_amount: Decimal | None = money_field(default=None)
    created_at: datetime = timestamp_field()


class PriceAgreementPublic(PriceAgreementBase):
    id: int
    created_at: datetime


class PriceAgreementsPublic(SQLModel):
    data: list[PriceAgreementPublic]
    count: int  # how many match in all (`data` is one page of them)
    page: int = 1
    page_size: int = 50


class TaxRateBase(SQLModel):
    name: str = Field(default="", max_length=100)
    tax_class: str = Field(default="standard", min_length=1, max_length=32)
    country: str = Field(default="*", max_length=2)  # "*" = any destination
    rate: Decimal = Field(ge=0, le=100, decimal_places=4)


class TaxRateCreate(TaxRateBase):
    country: Country = "*"


class TaxRate(TaxRateBase, table=True):
    __tablename__ = "taxrate"

    id: int | None = Field(default=None, primary_key=True)
    tax_class: str = Field(default="standard", max_length=32, index=True)
    rate: Decimal = rate_field()
    created_at: datetime = timestamp_field()
    # Retired rates no longer price orders; invoices keep the rates they were issued with.
    retired_at: datetime | None = timestamp_field(nullable=True, default_now=False)


class TaxRateUpdate(SQLModel):
    """A PATCH: only the fields sent change; the result is checked as a new rate would be."""

    name: str | None = Field(default=None, max_length=100)
    tax_class: str | None = Field(default=None, max_length=32)
    country: str | None = Field(default=None, max_length=2)
    rate: Decimal | None = Field(default=None, max_digits=9)


class TaxRatePublic(TaxRateBase):
    id: int
    retired_at: datetime | None = None


class ShippingRateBase(SQLModel):
    name: str = Field(default="Shipping", min_length=1, max_length=100)
    country: str = Field(default="*", max_length=2)
    customer_group: str | None = Field(default=None, max_length=50)
    currency: str = Field(default="USD", max_length=3)
    amount: Decimal = Field(ge=0, decimal_places=2, max_digits=14)
    # Orders whose goods are worth at least this ship free.
    free_from: Decimal | None = Field(default=None, ge=0, decimal_places=2, max_digits=14)
    tax_class: str = Field(default="standard", min_length=1, max_length=32)
    priority: int = Field(default=0, ge=-1000, le=1000)


class ShippingRateCreate(ShippingRateBase):
    country: Country = "*"
    currency: Currency = "USD"


class ShippingRate(ShippingRateBase, table=True):
    __tablename__ = "shippingrate"

    id: int | None = Field(default=None, primary_key=True)
    amount: Decimal = money_field()
    free_from: Decimal | None = money_field(default=None)
    created_at: datetime = timestamp_field()
    retired_at: datetime | None = timestamp_field(nullable=True, default_now=False)


class ShippingRateUpdate(SQLModel):
    """A PATCH: only the fields sent change; the result is checked as a new rate would be."""

    name: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, max_length=2)
    customer_group: str | None = Field(default=None, max_length=50)
    currency: str | None = Field(default=None, max_length=3)
    amount: Decimal | None = Field(default=None, max_digits=14)
    free_from: Decimal | None = Field(default=None, max_digits=14)
    tax_class: str | None = Field(default=None, max_length=32)
    priority: int | None = None


class ShippingRatePublic(ShippingRateBase):
    id: int
    retired_at: datetime | None = None
