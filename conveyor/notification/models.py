"""Outbox table: one row per e-mail, keyed so a retried activity never sends it twice."""

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from conveyor.core.models import timestamp_field


class OutboxStatus(StrEnum):
    PENDING = "pending"  # rendered and stored, not yet accepted by the SMTP server
    SENT = "sent"
    SKIPPED = "skipped"  # nobody to send it to (a pool task with nobody on duty)


class OutboxMessage(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=32, index=True)
    order_number: str | None = Field(default=None, max_length=32, index=True)
    recipients: str = Field(default="", max_length=2000)  # comma-separated addresses
    subject: str = Field(max_length=300)
    body_text: str
    body_html: str
    # A document to attach when sending, by reference ("invoice:INV-2026-000001").
    attachment: str | None = Field(default=None, max_length=100)
    status: str = Field(default=OutboxStatus.PENDING, max_length=16, index=True)
    # Who sends it, so that one row never has two senders: True, the outbox dispatcher (rows that
    # `service.queue` writes in the transaction of a business effect); False, the
    # `send_notification` activity that stored it (orders still running on the v7 workflow).
    dispatch: bool = True
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=2000)
    # The dispatcher leaves the row alone until then: its backoff after a failed attempt.
    next_attempt_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    # The lease of the dispatcher sending it: other dispatchers keep off until then, and the
    # rows of one that died mid-batch are due again when its lease ends.
    claimed_until: datetime | None = timestamp_field(nullable=True, default_now=False)
    created_at: datetime = timestamp_field()
    sent_at: datetime | None = timestamp_field(nullable=True, default_now=False)


class OutboxMessagePublic(SQLModel):
    id: int
    key: str
    kind: str
    order_number: str | None
    recipients: str
    subject: str
    body_text: str
    attachment: str | None
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    sent_at: datetime | None


class OutboxMessagesPublic(SQLModel):
    data: list[OutboxMessagePublic]
    count: int
