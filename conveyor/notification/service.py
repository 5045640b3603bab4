"""Outbox service: store a rendered message once per key, mark it sent or failed, list it."""

from sqlmodel import Session, col, select

from conveyor.core.db import page
from conveyor.core.models import utcnow
from conveyor.notification.compose import compose
from conveyor.notification.models import OutboxMessage, OutboxStatus
from conveyor.notification.render import RenderedMail, render
from conveyor.order.models import SalesOrder


def get_by_key(*, session: Session, key: str) -> OutboxMessage | None:
    """The message stored under `key`, or None."""
    return session.exec(select(OutboxMessage).where(OutboxMessage.key == key)).first()


def enqueue(
    *,
    session: Session,
    key: str,
    kind: str,
    order_number: str | None,
    recipients: list[str],
    mail: RenderedMail,
    attachment: str | None = None,
) -> OutboxMessage:
    """Store the message under `key`, or return the one already stored (a retry)."""
    existing = get_by_key(session=session, key=key)
    if existing is not None:
        return existing
    message = OutboxMessage(
        key=key,
        kind=kind,
        order_number=order_number,
        recipients=", ".join(recipients),
        subject=mail.subject,
        body_text=mail.text,
        body_html=mail.html,
        attachment=attachment,
        status=OutboxStatus.PENDING if recipients else OutboxStatus.SKIPPED,
    )
    session.add(message)
    session.flush()
    return message


def mark_sent(*, session: Session, message_id: int) -> None:
    """Record that the SMTP server accepted the message."""
    message = session.get(OutboxMessage, message_id)
    if message is not None and message.status != OutboxStatus.SENT:
        message.status = OutboxStatus.SENT
        message.sent_at = utcnow()
        message.attempts += 1
        message.last_error = None
        session.add(message)


def record_failure(*, session: Session, message_id: int, error: str) -> None:
    """Count a failed delivery attempt and keep its error for the outbox view."""
    message = session.get(OutboxMessage, message_id)
    if message is not None:
        message.attempts += 1
        message.last_error = error[:2000]
        session.add(message)


def list_messages(
    *,
    session: Session,
    order_number: str | None = None,
    recipient: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[OutboxMessage], int]:
    """Messages newest first, filtered, with the total count."""
    query = select(OutboxMessage)
    if order_number:
        query = query.where(OutboxMessage.order_number == order_number)
    if recipient:
        query = query.where(col(OutboxMessage.recipients).contains(recipient.lower()))
    if status:
        query = query.where(OutboxMessage.status == status)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return page(session, query, col(OutboxMessage.id).desc(), limit=limit, offset=offset)


def queue(
    *,
    session: Session,
    key: str,
    kind: str,
    order: SalesOrder,
    app_url: str,
    task_id: int | None = None,
    to_role: str | None = None,
    extra: dict[str, str] | None = None,
) -> OutboxMessage:
    """Compose and store a notification about `order` in the caller's transaction.

    This is the transactional outbox: the business change and the mail it causes commit
    together, and the dispatcher sends pending rows later. A second call with the same key
    returns the stored message and changes nothing.
    """
    existing = get_by_key(session=session, key=key)
    if existing is not None:
        return existing
    composition = compose(
        session=session,
        kind=kind,
        order=order,
        task_id=task_id,
        to_role=to_role,
        extra=extra or {},
        app_url=app_url,
    )
    return enqueue(
        session=session,
        key=key,
        kind=kind,
        order_number=order.number,
        recipients=composition.recipients,
        mail=render(kind, composition.context),
        attachment=composition.attachment,
    )
