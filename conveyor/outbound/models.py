"""Outbound webhooks: subscriptions, the event outbox and one delivery per (event, subscription)."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AnyHttpUrl, UrlConstraints
from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from conveyor.core.models import json_list_field, timestamp_field


class EventType(StrEnum):
    """What a subscriber can hear of; the value is the event's `type`."""

    ORDER_CREATED = "order.created"
    ORDER_SHIPPED = "order.shipped"
    ORDER_DELIVERED = "order.delivered"
    ORDER_CANCELLED = "order.cancelled"
    INVOICE_ISSUED = "invoice.issued"
    PAYMENT_RECEIVED = "payment.received"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # due (again) once past `next_attempt_at`
    DELIVERED = "delivered"  # the subscriber answered 2xx
    FAILED = "failed"  # still refused when its retry window closed (a replay tries again)


MAX_URL_LENGTH = 2000


def _no_credentials(url: AnyHttpUrl) -> AnyHttpUrl:
    if url.username or url.password:
        raise ValueError(
            "a user name or password has no place in the URL (the signature proves who sends)"
        )
    return url


# http or https only, bounded, with a host and without credentials.
SubscriberUrl = Annotated[
    AnyHttpUrl,
    UrlConstraints(
        max_length=MAX_URL_LENGTH, allowed_schemes=["http", "https"], host_required=True
    ),
    AfterValidator(_no_credentials),
]
EventList = Annotated[list[EventType], Field(min_length=1, max_length=len(EventType))]


class OutboundSubscription(SQLModel, table=True):
    """Another system's endpoint and the events it wants, signed with its own secret."""

    __tablename__ = "outboundsubscription"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=MAX_URL_LENGTH)
    events: list[str] = json_list_field()
    secret: str = Field(max_length=100)  # shown once, when made or rotated; never listed
    active: bool = True
    description: str = Field(default="", max_length=500)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class OutboundEvent(SQLModel, table=True):
    """The outbox: one row per business event, written in the transaction of its effect."""

    __tablename__ = "outboundevent"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=40, unique=True)  # `evt_<hex>`, the subscriber's dedup key
    # The effect's own key ("order.created:SO-000123"): a retried effect emits nothing twice.
    key: str | None = Field(default=None, max_length=250, unique=True)
    type: str = Field(max_length=32, index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = timestamp_field()


class OutboundDelivery(SQLModel, table=True):
    """One event for one subscription: tried until a 2xx, with backoff, for a bounded time."""

    __tablename__ = "outbounddelivery"
    __table_args__ = (
        UniqueConstraint("event_id", "subscription_id", name="uq_outbounddelivery_event"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="outboundevent.id", index=True)
    subscription_id: int = Field(foreign_key="outboundsubscription.id", index=True)
    status: str = Field(default=DeliveryStatus.PENDING, max_length=16, index=True)
    attempts: int = 0
    replays: int = 0
    last_status: int | None = None  # the subscriber's last HTTP status (None: no answer)
    last_error: str | None = Field(default=None, max_length=2000)
    next_attempt_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    # The lease of the dispatcher sending it (as in the mail outbox).
    claimed_until: datetime | None = timestamp_field(nullable=True, default_now=False)
    # The retry window (CONVEYOR_OUTBOUND_RETRY_HOURS) runs from here: its creation or replay.
    retry_from: datetime = timestamp_field()
    created_at: datetime = timestamp_field()
    delivered_at: datetime | None = timestamp_field(nullable=True, default_now=False)


# ---- API shapes --------------------------------------------------------------------------------


class SubscriptionCreate(SQLModel):
    url: SubscriberUrl
    events: EventList
    description: str = Field(default="", max_length=500)
    active: bool = True


class SubscriptionUpdate(SQLModel):
    url: SubscriberUrl | None = None
    events: EventList | None = None
    description: str | None = Field(default=None, max_length=500)
    active: bool | None = None


class SubscriptionPublic(SQLModel):
    id: int
    url: str
    events: list[str]
    active: bool
    description: str
    created_at: datetime
    updated_at: datetime


class SubscriptionWithSecret(SubscriptionPublic):
    """The answer that makes or rotates a secret: the only time the secret is shown."""

    secret: str


class SubscriptionsPublic(SQLModel):
    data: list[SubscriptionPublic]
    count: int


class DeliveryPublic(SQLModel):
    id: int
    subscription_id: int
    event_id: str
    event_type: str
    status: str
    attempts: int
    replays: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    retry_from: datetime
    created_at: datetime
    delivered_at: datetime | None


class DeliveriesPublic(SQLModel):
    data: list[DeliveryPublic]
    count: int
