"""Suppliers, their prices, purchase orders (drop-ship: one per order and supplier; stock: to
a warehouse) with their lines and receipts, and API shapes."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BeforeValidator,
    EmailStr,
    StringConstraints,
    field_validator,
    model_validator,
)
from sqlalchemy import Numeric, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from conveyor.core.models import timestamp_field, utcnow
from conveyor.inventory.models import SKU_PATTERN, WarehouseCode

SUPPLIER_PATTERN = r"^[A-Z0-9][A-Z0-9_-]{0,31}$"
# A supplier code as the API takes it: any case in, upper case kept.
SupplierCode = Annotated[
    str,
    BeforeValidator(lambda value: value.strip().upper() if isinstance(value, str) else value),
    StringConstraints(pattern=SUPPLIER_PATTERN),
]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Sku = Annotated[str, StringConstraints(pattern=SKU_PATTERN, min_length=1, max_length=64)]


def _cost_column(nullable: bool = True) -> Column:
    # Purchase prices and costs carry four decimals (a unit may cost a fraction of a cent).
    return Column(Numeric(14, 4), nullable=nullable)


# ---- suppliers --------------------------------------------------------------------------------


class SupplierBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr = Field(max_length=320)
    contact_name: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=50)
    address: str = Field(default="", max_length=500)
    payment_terms_days: int = Field(default=30, ge=0, le=365)
    currency: Currency = "USD"
    lead_time_days: int = Field(default=7, ge=0, le=365)


class SupplierCreate(SupplierBase):
    code: SupplierCode


class SupplierUpdate(SQLModel):
    """A PATCH: only the fields sent change (the code stays: prices and orders name it)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = None
    contact_name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=50)
    address: str | None = Field(default=None, max_length=500)
    payment_terms_days: int | None = Field(default=None, ge=0, le=365)
    currency: Currency | None = None
    lead_time_days: int | None = Field(default=None, ge=0, le=365)


class Supplier(SupplierBase, table=True):
    """Who we buy from; `code` (like `ACME`) names it in prices and purchase orders."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True, index=True)
    email: str = Field(max_length=320, index=True)
    currency: str = Field(default="USD", max_length=3)
    created_at: datetime = timestamp_field()


class SupplierPublic(SupplierBase):
    id: int
    code: str
    email: str
    currency: str
    created_at: datetime


class SuppliersPublic(SQLModel):
    data: list[SupplierPublic]
    count: int


class SupplierPriceBase(SQLModel):
    """A supplier's price for an item from a quantity on (a quantity break), for a period."""

    sku: Sku
    min_qty: int = Field(default=1, ge=1, le=1_000_000)
    unit_price: Decimal = Field(ge=0, max_digits=14, decimal_places=4)
    discount_percent: Decimal = Field(default=Decimal("0"), ge=0, le=100, decimal_places=2)
    valid_from: date | None = None
    valid_to: date | None = None  # inclusive
    # The supplier to buy from whenever it quotes for the quantity (else the cheapest).
    preferred: bool = False


class SupplierPriceCreate(SupplierPriceBase):
    @model_validator(mode="after")
    def _period(self) -> "SupplierPriceCreate":
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


class SupplierPrice(SupplierPriceBase, table=True):
    __tablename__ = "supplierprice"
    __table_args__ = (UniqueConstraint("supplier_id", "sku", "min_qty", "valid_from"),)

    id: int | None = Field(default=None, primary_key=True)
    supplier_id: int = Field(foreign_key="supplier.id", index=True)
    sku: str = Field(max_length=64, foreign_key="product.sku", index=True)
    unit_price: Decimal = Field(sa_column=_cost_column(nullable=False))
    discount_percent: Decimal = Field(
        default=Decimal("0"), sa_column=Column(Numeric(5, 2), nullable=False, server_default="0")
    )
    created_at: datetime = timestamp_field()


class SupplierPricePublic(SupplierPriceBase):
    id: int
    supplier: str
    net_price: Decimal


class SupplierGroupDiscountBase(SQLModel):
    """A supplier's discount on every item of an item group, from a quantity on, for a period.
    It applies on top of the SKU's list price unless that price carries its own discount."""

    item_group: str = Field(min_length=1, max_length=50)
    discount_percent: Decimal = Field(gt=0, le=100, decimal_places=2)
    min_qty: int = Field(default=1, ge=1, le=1_000_000)
    valid_from: date | None = None
    valid_to: date | None = None  # inclusive


class SupplierGroupDiscountCreate(SupplierGroupDiscountBase):
    @model_validator(mode="after")
    def _period(self) -> "SupplierGroupDiscountCreate":
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


class SupplierGroupDiscount(SupplierGroupDiscountBase, table=True):
    __tablename__ = "suppliergroupdiscount"
    __table_args__ = (UniqueConstraint("supplier_id", "item_group", "min_qty", "valid_from"),)

    id: int | None = Field(default=None, primary_key=True)
    supplier_id: int = Field(foreign_key="supplier.id", index=True)
    item_group: str = Field(max_length=50, index=True)
    discount_percent: Decimal = Field(sa_column=Column(Numeric(5, 2), nullable=False))
    created_at: datetime = timestamp_field()


class SupplierGroupDiscountPublic(SupplierGroupDiscountBase):
    id: int
    supplier: str


class SupplierQuote(SQLModel):
    """The supplier to buy a quantity of a SKU from, and at what net unit price."""

    sku: str
    qty: int
    supplier: str
    supplier_name: str
    unit_price: Decimal
    discount_percent: Decimal
    # Where the discount comes from: "price" (the SKU's own) or "item_group" (the group's).
    discount_source: str = "price"
    net_price: Decimal
    currency: str
    lead_time_days: int
    preferred: bool


# ---- purchase orders --------------------------------------------------------------------------


class PurchaseOrderStatus(StrEnum):
    OPEN = "open"  # ordered from the supplier, waiting for the shipment or the goods
    SHIPPED = "shipped"  # drop-ship: the supplier confirmed shipment to the customer
    RECEIVED = "received"  # stock: every line received (within the tolerance)
    CANCELLED = "cancelled"


class PurchaseOrderKind(StrEnum):
    DROP_SHIP = "drop_ship"  # for a sales order, shipped to its customer
    STOCK = "stock"  # for stock, delivered to a warehouse


class PurchaseOrder(SQLModel, table=True):
    __tablename__ = "purchaseorder"

    id: int | None = Field(default=None, primary_key=True)
    number: str | None = Field(default=None, max_length=32, unique=True, index=True)
    key: str = Field(max_length=200, unique=True)
    kind: str = Field(
        default=PurchaseOrderKind.DROP_SHIP,
        max_length=16,
        sa_column_kwargs={"server_default": PurchaseOrderKind.DROP_SHIP.value},
    )
    # Drop-ship: the sales order it serves (stock purchase orders have none).
    order_id: int | None = Field(default=None, foreign_key="salesorder.id", index=True)
    order_number: str | None = Field(default=None, max_length=32, index=True)
    supplier_id: int | None = Field(default=None, foreign_key="supplier.id", index=True)
    supplier_email: str = Field(max_length=320)
    # Stock: the warehouse the goods are delivered to.
    warehouse: str | None = Field(default=None, max_length=16, foreign_key="warehouse.code")
    currency: str = Field(default="USD", max_length=3, sa_column_kwargs={"server_default": "USD"})
    expected_date: date | None = None
    status: str = Field(default=PurchaseOrderStatus.OPEN, max_length=16, index=True)
    tracking: str | None = Field(default=None, max_length=200)
    created_at: datetime = timestamp_field()
    sent_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    shipped_at: datetime | None = timestamp_field(nullable=True, default_now=False)


class PurchaseOrderLine(SQLModel, table=True):
    __tablename__ = "purchaseorderline"

    id: int | None = Field(default=None, primary_key=True)
    purchase_order_id: int = Field(foreign_key="purchaseorder.id", index=True)
    sku: str = Field(max_length=64)
    name: str = Field(default="", max_length=200)
    qty: int
    # Stock purchase orders: the net unit price (after the supplier's discount), tax rate
    # (percent) and expected date; drop-ship lines only when their supplier came from its price
    # list (a drop-ship allowable product).
    unit_price: Decimal | None = Field(default=None, sa_column=_cost_column())
    discount_percent: Decimal = Field(
        default=Decimal("0"), sa_column=Column(Numeric(5, 2), nullable=False, server_default="0")
    )
    tax_rate: Decimal = Field(
        default=Decimal("0"), sa_column=Column(Numeric(5, 2), nullable=False, server_default="0")
    )
    expected_date: date | None = None
    received_qty: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class PurchaseReceipt(SQLModel, table=True):
    """Goods received against one purchase order line (one row per line and receipt)."""

    __tablename__ = "purchasereceipt"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    purchase_order_id: int = Field(foreign_key="purchaseorder.id", index=True)
    line_id: int = Field(foreign_key="purchaseorderline.id")
    sku: str = Field(max_length=64)
    qty: int
    warehouse: str = Field(max_length=16)
    unit_cost: Decimal = Field(sa_column=_cost_column(nullable=False))
    reference: str | None = Field(default=None, max_length=200)
    received_at: datetime = timestamp_field()


class PurchaseOrderLinePublic(SQLModel):
    id: int | None = None
    sku: str
    name: str
    qty: int
    unit_price: Decimal | None = None
    discount_percent: Decimal = Decimal("0")
    tax_rate: Decimal = Decimal("0")
    expected_date: date | None = None
    received_qty: int = 0


class PurchaseOrderPublic(SQLModel):
    number: str
    kind: str = PurchaseOrderKind.DROP_SHIP
    order_number: str | None
    supplier: str | None = None
    supplier_email: str
    warehouse: str | None = None
    currency: str = "USD"
    expected_date: date | None = None
    status: str
    tracking: str | None
    created_at: datetime
    sent_at: datetime | None = None
    shipped_at: datetime | None
    lines: list[PurchaseOrderLinePublic]
    net_total: Decimal | None = None
    tax_total: Decimal | None = None


class PurchaseOrdersPublic(SQLModel):
    data: list[PurchaseOrderPublic]
    count: int


class StockPurchaseLineIn(SQLModel):
    sku: Sku
    qty: int = Field(gt=0, le=1_000_000)
    # Unset: the supplier's price list for the quantity (refused when it has none).
    unit_price: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=4)
    discount_percent: Decimal | None = Field(default=None, ge=0, le=100, decimal_places=2)
    tax_rate: Decimal = Field(default=Decimal("0"), ge=0, le=100, decimal_places=2)
    expected_date: date | None = None


class StockPurchaseCreate(SQLModel):
    """A purchase order for stock: from a supplier, delivered to a warehouse."""

    supplier: SupplierCode
    warehouse: WarehouseCode | None = None  # unset: the default warehouse
    expected_date: date | None = None  # unset: today + the supplier's lead time
    lines: list[StockPurchaseLineIn] = Field(min_length=1, max_length=200)


class ReceiptLineIn(SQLModel):
    sku: Sku
    qty: int = Field(gt=0, le=1_000_000)


class PurchaseReceiptIn(SQLModel):
    """Goods received against a stock purchase order (some lines, some quantities)."""

    lines: list[ReceiptLineIn] = Field(min_length=1, max_length=200)
    reference: str | None = Field(default=None, max_length=200)


class SupplierShipment(SQLModel):
    """The supplier's confirmation: tracking, carrier, when it left (default: now)."""

    tracking: str | None = Field(default=None, max_length=200)
    carrier: str | None = Field(default=None, max_length=64)
    shipped_at: AwareDatetime | None = None

    @field_validator("shipped_at")
    @classmethod
    def _not_ahead(cls, value: datetime | None) -> datetime | None:
        if value is not None and value > utcnow() + timedelta(minutes=5):
            raise ValueError("a shipment cannot leave in the future")
        return value
