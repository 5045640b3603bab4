"""Outbox endpoint: the e-mails Conveyor stored and sent (admin)."""

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Principal, ReadSessionDep, require
from conveyor.auth.permissions import Permission
from conveyor.notification import service as outbox_service
from conveyor.notification.models import OutboxMessagePublic, OutboxMessagesPublic, OutboxStatus

router = APIRouter()


@router.get("", response_model=OutboxMessagesPublic)
def list_outbox(
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.MAIL_VIEW)],
    order_number: str | None = None,
    recipient: str | None = None,
    status: OutboxStatus | None = None,
    kind: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> OutboxMessagesPublic:
    """Messages newest first; filter by order, recipient, status (pending|sent|skipped), kind."""
    rows, count = outbox_service.list_messages(
        session=session,
        order_number=order_number,
        recipient=recipient,
        status=status,
        kind=kind,
        limit=limit,
        offset=offset,
    )
    return OutboxMessagesPublic(
        data=[OutboxMessagePublic.model_validate(r) for r in rows], count=count
    )
