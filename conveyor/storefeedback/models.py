"""One row per thing a store must hear of (a shipment's fulfilment, a cancellation)."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from conveyor.core.models import timestamp_field


class FeedbackAction(StrEnum):
    FULFIL = "fulfil"  # Shopify: a fulfillment with tracking; WooCommerce: completed + a note
    CANCEL = "cancel"  # Shopify: cancel the order; WooCommerce: status cancelled
    REFUND = "refund"  # a refund decided in Conveyor (a return's): a refund at the store


class FeedbackStatus(StrEnum):
    PENDING = "pending"  # due (again) once past `next_attempt_at`
    SENT = "sent"  # the store answered 2xx: never sent again
    FAILED = "failed"  # still refused when its retry window closed
    ALREADY = "already"  # refused 422 as done at the store already (cancelled, fulfilled there)


class StoreFeedback(SQLModel, table=True):
    """Written in the transaction of its effect, sent by the outbound dispatcher with backoff."""

    __tablename__ = "storefeedback"

    id: int | None = Field(default=None, primary_key=True)
    # `<order>:s<shipment>:fulfil` or `<order>:cancel`: the effect's key, also sent as the
    # request's `Idempotency-Key` / `X-Request-Id`, so an effect is reported once.
    key: str = Field(max_length=200, unique=True)
    order_id: int = Field(foreign_key="salesorder.id", index=True)
    store: str = Field(max_length=40)  # the connection's name in the secrets file
    provider: str = Field(max_length=16)  # shopify, woocommerce
    external_id: str = Field(max_length=64)  # the store's order id
    action: str = Field(max_length=16)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=FeedbackStatus.PENDING, max_length=16, index=True)
    attempts: int = 0
    last_status: int | None = None
    last_error: str | None = Field(default=None, max_length=2000)
    next_attempt_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    claimed_until: datetime | None = timestamp_field(nullable=True, default_now=False)
    retry_from: datetime = timestamp_field()
    created_at: datetime = timestamp_field()
    sent_at: datetime | None = timestamp_field(nullable=True, default_now=False)
