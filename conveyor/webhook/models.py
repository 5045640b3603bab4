"""Webhook delivery log and the store's view of an imported order, plus API shapes."""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from conveyor.core.models import json_list_field, money_field, timestamp_field


class Outcome(StrEnum):
    RECEIVED = "received"  # stored, not processed yet (or the process died on the way)
    PROCESSED = "processed"  # did what it asked: order created, payment recorded, ...
    DUPLICATE = "duplicate"  # already done by an earlier delivery
    NEEDS_REVIEW = "needs_review"  # recorded, but a person has to look (unknown SKU, refused)
    UNMATCHED = "unmatched"  # a payment or change for an order Conveyor does not know
    IGNORED = "ignored"  # a topic or state Conveyor does not act on
    PING = "ping"  # WooCommerce's hello when a webhook is created
    REJECTED = "rejected"  # bad or missing signature: 401
    MALFORMED = "malformed"  # signed, but not a body we can read: 400
    FAILED = "failed"  # our own error; the provider retries


class WebhookDelivery(SQLModel, table=True):
    """Every HTTP delivery, stored before it is answered (refused ones without their body).

    A signed delivery is stored once per (provider, store, delivery id): a repeat is counted in
    `repeats` and answered as a duplicate. Refused deliveries never carry a delivery id.
    """

    __tablename__ = "webhookdelivery"
    __table_args__ = (
        UniqueConstraint("provider", "store", "delivery_id", name="uq_webhookdelivery_delivery"),
        Index("ix_webhookdelivery_received_at", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=16, index=True)
    store: str | None = Field(default=None, max_length=40)
    delivery_id: str | None = Field(default=None, max_length=128, index=True)
    topic: str | None = Field(default=None, max_length=64)
    headers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    body: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))
    body_size: int = 0  # bytes received (a refused delivery's body is not kept)
    source: str | None = Field(default=None, max_length=64, index=True)  # the client address
    signature_valid: bool = False
    outcome: str = Field(default=Outcome.RECEIVED, max_length=16, index=True)
    detail: str = Field(default="", max_length=2000)
    order_number: str | None = Field(default=None, max_length=32, index=True)
    replays: int = 0
    repeats: int = 0  # the same delivery id received again (answered as a duplicate)
    received_at: datetime = timestamp_field()
    processed_at: datetime | None = timestamp_field(nullable=True, default_now=False)


class StoreOrder(SQLModel, table=True):
    """How the store sold an order: its ids, amounts as charged, address, payment reference."""

    __tablename__ = "storeorder"
    __table_args__ = (UniqueConstraint("store", "external_id", name="uq_storeorder_external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="salesorder.id", unique=True)
    store: str = Field(max_length=40)
    provider: str = Field(max_length=16)
    external_id: str = Field(max_length=64, index=True)  # kept exact: Shopify ids exceed 2^53
    external_number: str | None = Field(default=None, max_length=64)
    payment_ref: str | None = Field(default=None, max_length=200, index=True)
    currency: str = Field(max_length=3)
    subtotal: Decimal = money_field()
    discount: Decimal = money_field()
    shipping: Decimal = money_field()
    tax: Decimal = money_field()
    total: Decimal = money_field()
    shipping_address: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    review_reasons: list[str] = json_list_field()
    # The store's `updated_at` (WooCommerce `date_modified_gmt`) of the newest delivery acted
    # on: an update older than this is ignored (a replay or a late retry).
    store_updated_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    created_at: datetime = timestamp_field()


class DeliverySummary(SQLModel):
    id: int
    provider: str
    store: str | None
    delivery_id: str | None
    topic: str | None
    signature_valid: bool
    source: str | None
    body_size: int
    outcome: str
    detail: str
    order_number: str | None
    replays: int
    repeats: int
    received_at: datetime
    processed_at: datetime | None


class DeliveryPublic(DeliverySummary):
    headers: dict[str, Any]
    body: str


class DeliveriesPublic(SQLModel):
    data: list[DeliverySummary]
    count: int
    page: int
    page_size: int


class WebhookAck(SQLModel):
    """What a provider is answered."""

    delivery: int
    outcome: str
    order_number: str | None = None
    detail: str = ""
