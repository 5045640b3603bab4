"""Shipment tables (one per packing of an order, one per drop-ship purchase order) and shapes."""

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, field_validator
from sqlalchemy import Numeric, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from conveyor.core.models import timestamp_field, utcnow


class ShipmentStatus(StrEnum):
    PACKED = "packed"  # details recorded ahead of packing (carrier, tracking); nothing left yet
    SHIPPED = "shipped"  # packed and handed to the carrier (or shipped by the supplier)
    DELIVERED = "delivered"
    FAILED = "failed"  # returned to sender, lost, refused


class Shipment(SQLModel, table=True):
    """One shipment: `number` 1, 2, ... per order (a partial order's shipments in order)."""

    __tablename__ = "shipment"
    __table_args__ = (UniqueConstraint("order_id", "number", name="uq_shipment_order_number"),)

    id: int | None = Field(default=None, primary_key=True)
    # `<order>:pack` / `<order>:pack:s<n>` (the packing's key) or `<order>:po:<PO number>`.
    key: str = Field(max_length=200, unique=True)
    order_id: int = Field(foreign_key="salesorder.id", index=True)
    order_number: str = Field(max_length=32, index=True)
    number: int
    status: str = Field(default=ShipmentStatus.PACKED, max_length=16, index=True)
    warehouse: str | None = Field(default=None, max_length=16)
    purchase_order_number: str | None = Field(default=None, max_length=32)
    carrier: str | None = Field(default=None, max_length=64)
    service: str | None = Field(default=None, max_length=64)
    tracking: str | None = Field(default=None, max_length=200)
    tracking_url: str | None = Field(default=None, max_length=500)
    packages: int | None = Field(default=None, ge=1)
    weight_kg: Decimal | None = Field(default=None, sa_column=Column(Numeric(10, 3), nullable=True))
    shipped_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    delivered_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    signed_by: str | None = Field(default=None, max_length=200)
    delivery_note: str | None = Field(default=None, max_length=1000)
    failure_reason: str | None = Field(default=None, max_length=1000)
    created_at: datetime = timestamp_field()


class ShipmentLine(SQLModel, table=True):
    __tablename__ = "shipmentline"

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: int = Field(foreign_key="shipment.id", index=True)
    sku: str = Field(max_length=64)
    name: str = Field(default="", max_length=200)
    qty: int


class ShipmentLinePublic(SQLModel):
    sku: str
    name: str
    qty: int


class ShipmentPublic(SQLModel):
    number: int
    order_number: str
    status: str
    warehouse: str | None
    purchase_order_number: str | None
    carrier: str | None
    service: str | None
    tracking: str | None
    tracking_url: str | None
    packages: int | None
    weight_kg: Decimal | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    signed_by: str | None
    delivery_note: str | None
    failure_reason: str | None
    lines: list[ShipmentLinePublic]


class ShipmentDetails(SQLModel):
    """What staff record about a shipment (PATCH): every field optional, unset ones unchanged."""

    carrier: str | None = Field(default=None, max_length=64)
    service: str | None = Field(default=None, max_length=64)
    tracking: str | None = Field(default=None, max_length=200)
    tracking_url: str | None = Field(default=None, max_length=500)  # else from the template
    packages: int | None = Field(default=None, ge=1, le=10000)
    weight_kg: Decimal | None = Field(default=None, ge=0, le=1000000, decimal_places=3)


class DeliveryProof(SQLModel):
    """Who took the goods, a note (the driver's, the carrier's), and when (default: now)."""

    signed_by: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=1000)
    delivered_at: AwareDatetime | None = None

    @field_validator("delivered_at")
    @classmethod
    def _not_ahead(cls, value: datetime | None) -> datetime | None:
        if value is not None and value > utcnow() + timedelta(minutes=5):
            raise ValueError("a delivery cannot be in the future")
        return value


class ShipmentFailure(SQLModel):
    reason: str = Field(min_length=1, max_length=1000)


class CarrierEvent(SQLModel):
    """A carrier's delivery event (POST /webhooks/carrier, HMAC-signed)."""

    tracking: str = Field(min_length=1, max_length=200)
    event: Literal["delivered", "failed"]
    carrier: str | None = Field(default=None, max_length=64)
    signed_by: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=1000)
    delivered_at: AwareDatetime | None = None
