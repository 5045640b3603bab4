"""Write and read the audit log. Every mutating service calls `record` in its own transaction."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy import and_, func
from sqlmodel import Session, col, or_, select

from conveyor.audit.models import ActorKind, AuditEntry, Source

# Never copied into the log, whatever the row holds.
SECRET_FIELDS = frozenset({"password_hash", "token_hash", "secret", "token", "password"})


@dataclass(frozen=True)
class Actor:
    """Who is changing something, and through what."""

    name: str
    kind: ActorKind
    source: Source
    employee_id: int | None = None

    @classmethod
    def system(cls, source: Source = Source.WORKFLOW) -> "Actor":
        """The system itself (a workflow, a scheduled job)."""
        return cls(name="system", kind=ActorKind.SYSTEM, source=source)

    @classmethod
    def integration(cls, name: str) -> "Actor":
        """A verified integration: a store or the payment provider (`shopify:<shop>`)."""
        return cls(name=name, kind=ActorKind.INTEGRATION, source=Source.WEBHOOK)

    @classmethod
    def on_behalf(cls, name: str, source: Source = Source.WORKFLOW) -> "Actor":
        """The person a workflow acts for, known by the name it carries (an e-mail, "admin").

        Workflow messages carry only the display name, so the kind is read from it.
        """
        if not name or name == "system":
            return cls.system(source)
        if name in ("admin", "admin token"):
            return cls(name="admin token", kind=ActorKind.ADMIN_TOKEN, source=source)
        if ":" in name and "@" not in name:  # "shopify:<shop>": a store acting through its order
            return cls(name=name, kind=ActorKind.INTEGRATION, source=source)
        return cls(name=name, kind=ActorKind.EMPLOYEE, source=source)

    @classmethod
    def cli(cls, name: str = "cli") -> "Actor":
        """An operator at the command line."""
        return cls(name=name, kind=ActorKind.SYSTEM, source=Source.CLI)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, BaseModel):
        return snapshot(value)
    return value


def snapshot(row: BaseModel | dict[str, Any] | None, fields: Iterable[str] | None = None) -> Any:
    """A JSON-ready copy of a row (or of some of its fields), secrets left out."""
    if row is None:
        return None
    data = row if isinstance(row, dict) else row.model_dump()
    keys = list(fields) if fields is not None else list(data)
    return {k: _plain(data.get(k)) for k in keys if k not in SECRET_FIELDS}


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: str | int | None,
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    """Add one audit entry to `session` (committed, or rolled back, with the change)."""
    entry = AuditEntry(
        actor=actor.name[:320],
        actor_kind=actor.kind,
        employee_id=actor.employee_id,
        source=actor.source,
        action=action,
        entity=entity,
        entity_id=str(entity_id if entity_id is not None else "")[:64],
        before=_plain(before),
        after=_plain(after),
    )
    session.add(entry)
    return entry


def changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that differ, before and after (for updates of a few fields)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def search(
    session: Session,
    *,
    entity: str | None = None,
    entity_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[Sequence[AuditEntry], int]:
    """Entries newest first, filtered; and how many match in all."""
    query = select(AuditEntry)
    if entity is not None:
        query = query.where(AuditEntry.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == entity_id)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if since is not None:
        query = query.where(col(AuditEntry.at) >= since)
    if until is not None:
        query = query.where(col(AuditEntry.at) < until)
    count = session.exec(select(func.count()).select_from(query.subquery())).one()
    if (page - 1) * page_size >= count:  # past the end (a huge page overflows a 64-bit OFFSET)
        return [], count
    rows = session.exec(
        query.order_by(col(AuditEntry.id).desc()).offset((page - 1) * page_size).limit(page_size)
    ).all()
    return rows, count


def for_entities(
    session: Session, *, entities: Sequence[tuple[str, Sequence[str]]], limit: int = 200
) -> list[AuditEntry]:
    """The entries about any of these (entity, ids) pairs, oldest first (an order's trail)."""
    terms = [
        and_(col(AuditEntry.entity) == entity, col(AuditEntry.entity_id).in_(list(ids)))
        for entity, ids in entities
        if ids
    ]
    if not terms:
        return []
    query = select(AuditEntry).where(or_(*terms)).order_by(col(AuditEntry.id).desc()).limit(limit)
    return list(reversed(session.exec(query).all()))
