"""The audit log table and its API shapes."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from conveyor.core.models import timestamp_field


class Source(StrEnum):
    """Where a change came in."""

    API = "api"
    PAGE = "page"
    WEBHOOK = "webhook"
    CLI = "cli"
    WORKFLOW = "workflow"


class ActorKind(StrEnum):
    """Who made a change: a person, the shared admin token, an integration, the system."""

    EMPLOYEE = "employee"
    ADMIN_TOKEN = "admin_token"
    CUSTOMER = "customer"
    INTEGRATION = "integration"
    SUPPLIER = "supplier"  # a drop-ship supplier through its signed purchase-order link
    SYSTEM = "system"


class AuditEntry(SQLModel, table=True):
    """One change: written in the same transaction as the change itself."""

    __table_args__ = (
        Index("ix_auditentry_entity", "entity", "entity_id"),
        Index("ix_auditentry_actor", "actor"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = timestamp_field()
    actor: str = Field(max_length=320)  # an e-mail, "admin token", "shopify:<store>", "system"
    actor_kind: str = Field(max_length=16)
    employee_id: int | None = Field(default=None, index=True)
    source: str = Field(max_length=16)
    action: str = Field(max_length=64, index=True)  # "order.cancel", "task.claim", ...
    entity: str = Field(max_length=32)  # "order", "task", "customer", ...
    entity_id: str = Field(max_length=64)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class AuditEntryPublic(SQLModel):
    id: int
    at: datetime
    actor: str
    actor_kind: str
    employee_id: int | None
    source: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditEntriesPublic(SQLModel):
    entries: list[AuditEntryPublic]
    count: int
    page: int
    page_size: int
