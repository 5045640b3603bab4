"""The audit page for staff admins: who changed what, filtered and paginated."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response

from api.deps import Principal, ReadSessionDep
from conveyor.audit import service as audit_service
from conveyor.auth.permissions import Permission
from conveyor.pages.listing import PAGE_SIZE, Pager
from conveyor.pages.web import page_router, render, require_page

router = page_router()


def _when(text: str) -> datetime | None:
    """A date or date-time from the filter form (UTC); None when empty or unreadable."""
    try:
        value = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@router.get("/audit", include_in_schema=False)
def audit_page(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.AUDIT_VIEW)],
    entity: Annotated[str, Query(max_length=32)] = "",
    entity_id: Annotated[str, Query(max_length=64)] = "",
    actor: Annotated[str, Query(max_length=320)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    since: Annotated[str, Query(max_length=32)] = "",
    until: Annotated[str, Query(max_length=32)] = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    """The audit log, newest first (`audit.view`, like GET /api/audit)."""
    rows, count = audit_service.search(
        session=session,
        entity=entity or None,
        entity_id=entity_id or None,
        actor=actor or None,
        action=action or None,
        since=_when(since),
        until=_when(until),
        page=page,
        page_size=PAGE_SIZE,
    )
    form = {
        "entity": entity,
        "entity_id": entity_id,
        "actor": actor,
        "action": action,
        "since": since,
        "until": until,
    }
    context = {
        "page": "audit",
        "entries": rows,
        "count": count,
        "paging": Pager("/audit", page, count, form),
        "form": form,
    }
    return render(request, "audit.html", context, principal=principal)
