"""A record page's audit history (shown by _audit_history.html) for those who may read it."""

from collections.abc import Sequence

from sqlmodel import Session

from api.deps import Principal
from conveyor.audit import service as audit_service
from conveyor.audit.models import AuditEntry
from conveyor.auth.permissions import Permission


def history(
    session: Session, principal: Principal, entities: Sequence[tuple[str, Sequence[str]]]
) -> list[AuditEntry] | None:
    """The entries about these (entity, ids) pairs, oldest first; None (nothing shown) for a
    caller without `audit.view`, since the entries carry before/after values."""
    if not principal.can(Permission.AUDIT_VIEW):
        return None
    return audit_service.for_entities(session, entities=entities)


def record_history(
    session: Session, principal: Principal, entity: str, entity_id: str | int
) -> list[AuditEntry] | None:
    """`history` of one record (an edit page's)."""
    return history(session, principal, [(entity, [str(entity_id)])])
