"""Support message and order activity tables."""

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from conveyor.core.models import timestamp_field


class AuthorKind(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"


class ActivityKind(StrEnum):
    NOTE = "note"
    CALL = "call"
    MEETING = "meeting"
    DELIVERY_WINDOW = "delivery_window"
    FOLLOW_UP = "follow_up"


class SupportMessage(SQLModel, table=True):
    """One message of an order's support history, from the customer or from staff."""

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="salesorder.id", index=True)
    author_kind: str = Field(max_length=16)
    author: str = Field(max_length=320)
    body: str = Field(max_length=4000)
    created_at: datetime = timestamp_field()


class OrderActivity(SQLModel, table=True):
    """A task or event attached to an order: a note, a call on Friday, a delivery window."""

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="salesorder.id", index=True)
    kind: str = Field(default=ActivityKind.NOTE, max_length=32)
    subject: str = Field(max_length=200)
    body: str = Field(default="", max_length=4000)
    due_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    created_by: str = Field(max_length=320)
    created_at: datetime = timestamp_field()
