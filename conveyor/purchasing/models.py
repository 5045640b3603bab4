"""Purchase order tables (one per order and supplier) and API shapes."""

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import AwareDatetime, field_validator
from sqlmodel import Field, SQLModel

from conveyor.core.models import timestamp_field, utcnow


class PurchaseOrderStatus(StrEnum):
    OPEN = "open"  # sent to the supplier, waiting for the shipment
    SHIPPED = "shipped"  # the supplier confirmed shipment to the customer
    CANCELLED = "cancelled"


class PurchaseOrder(SQLModel, table=True):
    __tablename__ = "purchaseorder"

    id: int | None = Field(default=None, primary_key=True)
    number: str | None = Field(default=None, max_length=32, unique=True, index=True)
    key: str = Field(max_length=200, unique=True)
    order_id: int = Field(foreign_key="salesorder.id", index=True)
    order_number: str = Field(max_length=32, index=True)
    supplier_email: str = Field(max_length=320)
    status: str = Field(default=PurchaseOrderStatus.OPEN, max_length=16, index=True)
    tracking: str | None = Field(default=None, max_length=200)
    created_at: datetime = timestamp_field()
    shipped_at: datetime | None = timestamp_field(nullable=True, default_now=False)


class PurchaseOrderLine(SQLModel, table=True):
    __tablename__ = "purchaseorderline"

    id: int | None = Field(default=None, primary_key=True)
    purchase_order_id: int = Field(foreign_key="purchaseorder.id", index=True)
    sku: str = Field(max_length=64)
    name: str = Field(default="", max_length=200)
    qty: int


class PurchaseOrderLinePublic(SQLModel):
    sku: str
    name: str
    qty: int


class PurchaseOrderPublic(SQLModel):
    number: str
    order_number: str
    supplier_email: str
    status: str
    tracking: str | None
    created_at: datetime
    shipped_at: datetime | None
    lines: list[PurchaseOrderLinePublic]


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
