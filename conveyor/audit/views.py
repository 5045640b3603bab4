"""Audit log endpoint: who changed what, filtered and paginated."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Principal, ReadSessionDep, require
from conveyor.audit import service as audit_service
from conveyor.audit.models import AuditEntriesPublic, AuditEntryPublic
from conveyor.auth.permissions import Permission

router = APIRouter()


def _utc(value: datetime | None) -> datetime | None:
    """A time without a zone is read as UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@router.get("", response_model=AuditEntriesPublic)
def list_entries(
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.AUDIT_VIEW)],
    entity: Annotated[str | None, Query(max_length=32)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=320)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AuditEntriesPublic:
    """Audit entries newest first; filters: entity (and id), actor, action, `since` ≤ at <
    `until`."""
    rows, count = audit_service.search(
        session=session,
        entity=entity,
        entity_id=entity_id,
        actor=actor,
        action=action,
        since=_utc(since),
        until=_utc(until),
        page=page,
        page_size=page_size,
    )
    return AuditEntriesPublic(
        entries=[AuditEntryPublic.model_validate(row) for row in rows],
        count=count,
        page=page,
        page_size=page_size,
    )
