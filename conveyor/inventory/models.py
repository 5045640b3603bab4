"""Product (with its company-wide stock totals), warehouses and their balances, stock ledger and
pick list tables, plus API shapes."""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BeforeValidator, EmailStr, StringConstraints, model_validator
from sqlalchemy import JSON, Numeric, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from conveyor.core.models import UTCDateTime, json_list_field, money_field, timestamp_field

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
WAREHOUSE_PATTERN = r"^[A-Z0-9][A-Z0-9_-]{0,15}$"
LOCATION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,31}$"
# A warehouse code as the API takes it: any case in, upper case kept.
WarehouseCode = Annotated[
    str,
    BeforeValidator(lambda value: value.strip().upper() if isinstance(value, str) else value),
    StringConstraints(pattern=WAREHOUSE_PATTERN),
]


class ProductKind(StrEnum):
    """What a product is: goods kept in stock, or a service (labour, fees) that keeps none."""

    GOODS = "goods"
    SERVICE = "service"  # never stock-checked, allocated, picked or packed; invoiced once delivered


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
    # Drop-ship allowable: each order line is sold from stock or shipped by a supplier.
    drop_ship_allowed: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    supplier_email: str | None = Field(default=None, max_length=320)
    kind: str = Field(
        default=ProductKind.GOODS, max_length=16, sa_column_kwargs={"server_default": "goods"}
    )


ProductName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


class ProductCreate(SQLModel):
    sku: Annotated[str, StringConstraints(pattern=SKU_PATTERN, min_length=1, max_length=64)]
    name: ProductName
    price: Decimal = Field(ge=0, decimal_places=2, max_digits=14)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "USD"
    # The bin in the default warehouse; unset: a bin named after the SKU (`default_bin`), so
    # new products never silently share one.
    location: Annotated[str, StringConstraints(pattern=LOCATION_PATTERN)] | None = None
    on_hand: int = Field(default=0, ge=0)
    tags: list[str] = Field(default_factory=list)
    item_group: str | None = Field(default=None, min_length=1, max_length=50)
    tax_class: str = Field(default="standard", min_length=1, max_length=32)
    drop_ship: bool = False
    drop_ship_allowed: bool = False
    supplier_email: EmailStr | None = None
    kind: ProductKind = ProductKind.GOODS
    # SKUs offered as options with this product (upselling: a printer with the laptop).
    options: list[str] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _drop_ship_needs_a_supplier(self) -> "ProductCreate":
        if self.drop_ship and not self.supplier_email:
            raise ValueError("a drop-ship product needs a supplier_email")
        if self.kind == ProductKind.SERVICE and (
            self.drop_ship or self.drop_ship_allowed or self.on_hand
        ):
            raise ValueError("a service keeps no stock: no on_hand and no drop-ship")
        return self


def default_bin(sku: str) -> str | None:
    """The bin a new product gets when none is given: one of its own, named after the SKU
    (None when the SKU is too long for a bin name: then the bin has to be given)."""
    return sku.upper() if len(sku) <= 32 else None


class ProductUpdate(SQLModel):
    """Only the fields given change; `bins` sets the SKU's bin per warehouse code."""

    name: ProductName | None = None
    price: Decimal | None = Field(default=None, ge=0, decimal_places=2, max_digits=14)
    tags: list[Tag] | None = Field(default=None, max_length=20)
    item_group: str | None = Field(default=None, min_length=1, max_length=50)
    tax_class: str | None = Field(default=None, min_length=1, max_length=32)
    drop_ship: bool | None = None
    drop_ship_allowed: bool | None = None
    supplier_email: EmailStr | None = None
    kind: ProductKind | None = None
    options: list[str] | None = Field(default=None, max_length=20)
    bins: (
        dict[WarehouseCode, Annotated[str, StringConstraints(pattern=LOCATION_PATTERN)]] | None
    ) = Field(default=None, max_length=50)


class Product(ProductBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    price: Decimal = money_field()
    on_hand: int = Field(default=0)
    committed: int = Field(default=0)
    tags: list[str] = json_list_field()
    options: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    # Moving-average unit cost (conveyor/inventory/costing.py), four decimals.
    average_cost: Decimal = Field(
        default=Decimal("0"),
        sa_column=Column(Numeric(14, 4), nullable=False, server_default="0"),
    )
    created_at: datetime = timestamp_field()
    # Retired products stay for the orders that name them but cannot be ordered again.
    retired_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


def is_service(product: ProductBase) -> bool:
    """A service (labour, a fee): no stock, picking or packing; invoiced once delivered."""
    return product.kind == ProductKind.SERVICE


def may_drop_ship(product: ProductBase) -> bool:
    """An order line of the product may be shipped by a supplier (always, or by choice)."""
    return product.drop_ship or (product.drop_ship_allowed and not is_service(product))


def keeps_stock(product: ProductBase) -> bool:
    """Goods the company keeps in stock: neither a service nor shipped by its supplier."""
    return not product.drop_ship and not is_service(product)


class ProductPublic(ProductBase):
    id: int
    on_hand: int
    committed: int
    average_cost: Decimal = Decimal("0")
    tags: list[str]
    options: list[str] = []
    retired_at: datetime | None = None


class WarehouseBase(SQLModel):
    code: str = Field(max_length=16, unique=True, index=True)
    name: str = Field(default="", max_length=200)
    address: str = Field(default="", max_length=500, sa_column_kwargs={"server_default": ""})
    # Set: picking moves this warehouse's goods to this location (else CONVEYOR_STAGING_LOCATION).
    staging_location: str | None = Field(default=None, max_length=32)


class WarehouseCreate(SQLModel):
    code: WarehouseCode
    name: str = Field(default="", max_length=200)
    address: str = Field(default="", max_length=500)
    staging_location: Annotated[str, StringConstraints(pattern=LOCATION_PATTERN)] | None = None


class WarehouseUpdate(SQLModel):
    """A PATCH: only the fields sent change (the code stays: stock and orders name it)."""

    name: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    staging_location: str | None = Field(default=None, max_length=32)


class Warehouse(WarehouseBase, table=True):
    """A place that keeps stock; `code` (like `MAIN`) names it everywhere else."""

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = timestamp_field()
    # Retired: kept for the ledger and orders that name it, no longer offered.
    retired_at: datetime | None = timestamp_field(nullable=True, default_now=False)


class WarehousePublic(WarehouseBase):
    id: int
    retired_at: datetime | None = None


class StockBalance(SQLModel, table=True):
    """One SKU in one warehouse: its bin and its balances (the product keeps the totals)."""

    __table_args__ = (UniqueConstraint("sku", "warehouse"),)

    id: int | None = Field(default=None, primary_key=True)
    sku: str = Field(max_length=64, foreign_key="product.sku", index=True)
    warehouse: str = Field(max_length=16, foreign_key="warehouse.code")
    location: str = Field(max_length=32)
    on_hand: int = Field(default=0)
    committed: int = Field(default=0)
    # Low stock below this (None: CONVEYOR_LOW_STOCK_LEVEL); set, it is also the reorder point
    # at which replenishment suggests buying `reorder_qty` (conveyor/purchasing/replenishment.py).
    reorder_level: int | None = Field(default=None, ge=0)
    reorder_qty: int | None = Field(default=None, ge=1)


class WarehouseStock(SQLModel):
    warehouse: str
    location: str
    on_hand: int
    committed: int
    available: int


class StockLevel(SQLModel):
    sku: str
    on_hand: int
    committed: int
    available: int
    # False for a service and a drop-ship product: never out of stock, nothing to allocate.
    stocked: bool = True
    warehouses: list[WarehouseStock] = []


class StockReceive(SQLModel):
    qty: int = Field(gt=0, le=1_000_000)
    # Unset: the default warehouse (CONVEYOR_DEFAULT_WAREHOUSE) and the SKU's bin there.
    warehouse: (
        Annotated[str, StringConstraints(pattern=WAREHOUSE_PATTERN, to_upper=True)] | None
    ) = None
    location: Annotated[str, StringConstraints(pattern=LOCATION_PATTERN)] | None = None
    # The receipt's reference (delivery note, supplier invoice), kept on its ledger entry.
    reference: str | None = Field(default=None, max_length=200)
    # What one unit cost (moves the SKU's average cost); unset: the goods come in at the average.
    unit_cost: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=4)


class StockMovement(SQLModel, table=True):
    """One ledger entry; `key` makes each movement happen at most once."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    sku: str = Field(max_length=64, index=True)
    # receive | commit | release | pack | stage | scrap | move_out | move_in | relocate | adjust_in
    # | adjust_out (conveyor/inventory/moves.py)
    kind: str = Field(max_length=16)
    qty: int
    order_number: str | None = Field(default=None, max_length=32, index=True)
    # The warehouse whose balance moved; for `stage`, `location` is where the goods went.
    warehouse: str = Field(max_length=16, sa_column_kwargs={"server_default": "MAIN"})
    location: str | None = Field(default=None, max_length=32)
    # Adjustments: why (an AdjustReason); receipts, moves and adjustments: the person's note.
    reason: str | None = Field(default=None, max_length=32)
    note: str | None = Field(default=None, max_length=200)
    # Receipts: what a unit cost; packs: the average cost it left at (cost of goods sold).
    unit_cost: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 4), nullable=True))
    at: datetime = timestamp_field()


class PickListLine(SQLModel, table=True):
    """Where to pick one order line from."""

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="salesorder.id", index=True)
    shipment: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    sku: str = Field(max_length=64)
    qty: int
    warehouse: str = Field(max_length=16, sa_column_kwargs={"server_default": "MAIN"})
    location: str = Field(max_length=32)
    # Set when picking stages the goods (CONVEYOR_STAGING_LOCATION) before packing.
    staging_location: str | None = Field(default=None, max_length=32)


class PickListLinePublic(SQLModel):
    shipment: int
    sku: str
    qty: int
    warehouse: str
    location: str
    staging_location: str | None


# ---- stock operations from the pages and the API (conveyor/inventory/moves.py, levels.py) -----

Bin = Annotated[str, StringConstraints(strip_whitespace=True, pattern=LOCATION_PATTERN)]
StockNote = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class AdjustReason(StrEnum):
    """Why stock was adjusted (mandatory on every adjustment)."""

    COUNT_CORRECTION = "count_correction"
    DAMAGE = "damage"
    LOSS = "loss"  # lost or stolen
    EXPIRED = "expired"
    FOUND = "found"
    OTHER = "other"  # needs a note


class StockMove(SQLModel):
    """Move stock to another warehouse (`qty` of it) or, in the same warehouse, to another bin
    (all of it: a SKU has one bin per warehouse)."""

    from_warehouse: WarehouseCode
    to_warehouse: WarehouseCode
    to_location: Bin | None = None
    qty: int | None = Field(default=None, gt=0, le=1_000_000)
    note: StockNote | None = None


class StockAdjust(SQLModel):
    """Correct a warehouse balance by `qty` (negative: less stock), with a reason."""

    warehouse: WarehouseCode
    qty: int = Field(ge=-1_000_000, le=1_000_000)
    reason: AdjustReason
    note: StockNote | None = None

    @model_validator(mode="after")
    def _checked(self) -> "StockAdjust":
        if self.qty == 0:
            raise ValueError("an adjustment changes the balance: qty must not be 0")
        if self.reason == AdjustReason.OTHER and not self.note:
            raise ValueError("reason `other` needs a note")
        return self


class ReorderLevel(SQLModel):
    """The reorder level (point) of a SKU in a warehouse (None: the default setting) and, when
    sent, the quantity to reorder at it (None: no replenishment suggestion)."""

    warehouse: WarehouseCode
    reorder_level: int | None = Field(default=None, ge=0, le=1_000_000)
    reorder_qty: int | None = Field(default=None, ge=1, le=1_000_000)


class StockRow(SQLModel):
    """One line of the stock list: a SKU in a warehouse."""

    sku: str
    name: str
    warehouse: str
    location: str
    on_hand: int
    committed: int
    available: int
    incoming: int  # on open purchase orders (the SKU, company-wide)
    reorder_level: int
    low: bool


class StockRowsPublic(SQLModel):
    data: list[StockRow]
    count: int
    page: int = 1
    page_size: int = 50
