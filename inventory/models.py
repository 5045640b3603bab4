"""Product (with its stock balance), stock ledger and pick list tables, plus API shapes."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import EmailStr, StringConstraints, model_validator
from sqlalchemy import JSON
from sqlmodel import Column, Field, SQLModel

from core.models import json_list_field, money_field, timestamp_field

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class ProductBase(SQLModel):
    sku: str = Field(min_length=1, max_length=64, unique=True, index=True)
    name: str = Field(default="", max_length=200)
    price: Decimal = Field(ge=0, decimal_places=2, max_digits=14)
    currency: str = Field(default="USD", min_length=3, max_length=3)
    location: str = Field(default="A-01", max_length=32)
    # Pricing: agreements may name an item group; taxes go by tax class.
    item_group: str | None = Field(default=None, max_length=50)
    tax_class: str = Field(default="standard", max_length=32)
    # Drop-ship: the supplier ships to the customer; no stock is kept or committed.
    drop_ship: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    supplier_email: str | None = Field(default=None, max_length=320)


class ProductCreate(SQLModel):
    sku: Annotated[str, StringConstraints(pattern=SKU_PATTERN, min_length=1, max_length=64)]
    name: str = Field(default="", max_length=200)
    price: Decimal = Field(ge=0, decimal_places=2, max_digits=14)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "USD"
    location: str = Field(default="A-01", max_length=32)
    on_hand: int = Field(default=0, ge=0)
    tags: list[str] = Field(default_factory=list)
    item_group: str | None = Field(default=None, min_length=1, max_length=50)
    tax_class: str = Field(default="standard", min_length=1, max_length=32)
    drop_ship: bool = False
    supplier_email: EmailStr | None = None
    # SKUs offered as options with this product (upselling: a printer with the laptop).
    options: list[str] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _drop_ship_needs_a_supplier(self) -> "ProductCreate":
        if self.drop_ship and not self.supplier_email:
            raise ValueError("a drop-ship product needs a supplier_email")
        return self


class Product(ProductBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    price: Decimal = money_field()
    on_hand: int = Field(default=0)
    committed: int = Field(default=0)
    tags: list[str] = json_list_field()
    options: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    created_at: datetime = timestamp_field()


class ProductPublic(ProductBase):
    id: int
    on_hand: int
    committed: int
    tags: list[str]
    options: list[str] = []


class StockLevel(SQLModel):
    sku: str
    on_hand: int
    committed: int
    available: int


class StockReceive(SQLModel):
    qty: int = Field(gt=0, le=1_000_000)


class StockMovement(SQLModel, table=True):
    """One ledger entry; `key` makes each movement happen at most once."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    sku: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=16)  # receive | commit | release | pack
    qty: int
    order_number: str | None = Field(default=None, max_length=32, index=True)
    at: datetime = timestamp_field()


class PickListLine(SQLModel, table=True):
    """Where to pick one order line from."""

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="salesorder.id", index=True)
    shipment: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    sku: str = Field(max_length=64)
    qty: int
    location: str = Field(max_length=32)
