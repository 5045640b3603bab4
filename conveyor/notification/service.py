"""Outbox service: store a rendered message once per key, claim due ones, mark sent or failed."""

from datetime import datetime

from sqlmodel import Session, col, func, or_, select
from sqlmodel.sql.expression import SelectOfScalar

from conveyor.audit.service import Actor, record
from conveyor.core.backoff import Backoff
from conveyor.core.db import page
from conveyor.core.models import utcnow
from conveyor.notification.compose import compose, compose_stock_purchase
from conveyor.notification.models import OutboxMessage, OutboxStatus
from conveyor.notification.render import RenderedMail, render
from conveyor.order.models import SalesOrder
from conveyor.purchasing.models import PurchaseOrder


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
    dispatch: bool = True,
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
        dispatch=dispatch,
    )
    session.add(message)
    session.flush()
    return message


def claim_due(
    *, session: Session, now: datetime, lease_until: datetime, limit: int
) -> list[OutboxMessage]:
    """Claim up to `limit` pending dispatcher rows that are due, oldest first, until `lease_until`.

    Due: past its backoff and claimed by no dispatcher (or by one whose lease has ended). The
    caller commits the claim before it talks SMTP, so another dispatcher skips the rows while
    this one sends; one that died mid-batch frees its rows when its lease runs out. On
    PostgreSQL `FOR UPDATE SKIP LOCKED` lets concurrent claims pass each other instead of
    queueing (and each takes other rows); SQLite ignores it: its transactions here begin
    IMMEDIATE, so one claim runs at a time.
    """
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING)
        .where(col(OutboxMessage.dispatch).is_(True))
        .where(
            or_(
                col(OutboxMessage.next_attempt_at).is_(None),
                col(OutboxMessage.next_attempt_at) <= now,
            )
        )
        .where(
            or_(
                col(OutboxMessage.claimed_until).is_(None),
                col(OutboxMessage.claimed_until) <= now,
            )
        )
        .order_by(col(OutboxMessage.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    messages = list(session.exec(query).all())
    for message in messages:
        message.claimed_until = lease_until
        session.add(message)
    session.flush()
    return messages


def release(*, session: Session, message_ids: list[int], lease_until: datetime) -> None:
    """End this claim on rows not tried yet (unless they were claimed anew meanwhile).

    For a dispatcher that stops before it sent its whole batch (shutdown, lease running out):
    the rows it did not try need not wait for the end of its lease.
    """
    rows = session.exec(
        select(OutboxMessage)
        .where(col(OutboxMessage.id).in_(message_ids))
        .where(OutboxMessage.status == OutboxStatus.PENDING)
    ).all()
    for message in rows:
        if message.claimed_until == lease_until:  # still our claim
            message.claimed_until = None
            session.add(message)
    session.flush()


def retry_now(*, session: Session, message_id: int, actor: Actor) -> OutboxMessage | None:
    """Waive a pending dispatcher message's backoff (a claim stands), or None if it is not one."""
    message = session.get(OutboxMessage, message_id)
    if message is None or message.status != OutboxStatus.PENDING or not message.dispatch:
        return None
    before = {"next_attempt_at": message.next_attempt_at}
    message.next_attempt_at = None
    session.add(message)
    session.flush()
    record(
        session,
        actor=actor,
        action="mail.retry",
        entity="mail",
        entity_id=message.id,
        before=before,
        after={"next_attempt_at": None, "order_number": message.order_number},
    )
    return message


def mark_sent(*, session: Session, message_id: int) -> None:
    """Record that the SMTP server accepted the message."""
    message = session.get(OutboxMessage, message_id)
    if message is not None and message.status != OutboxStatus.SENT:
        message.status = OutboxStatus.SENT
        message.sent_at = utcnow()
        message.attempts += 1
        message.last_error = None
        message.next_attempt_at = message.claimed_until = None
        session.add(message)


def record_failure(
    *, session: Session, message_id: int, error: str, backoff: Backoff | None = None
) -> None:
    """Count a failed delivery attempt and keep its error for the outbox view.

    With a `backoff` (the dispatcher's rows) the message is due again after its delay.
    """
    message = session.get(OutboxMessage, message_id)
    if message is not None and message.status == OutboxStatus.PENDING:
        message.attempts += 1
        message.last_error = error[:2000]
        if backoff is not None:
            message.next_attempt_at = utcnow() + backoff.delay(message.attempts)
        message.claimed_until = None
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
    query = search(order_number=order_number, recipient=recipient, status=status, kind=kind)
    return page(session, query, col(OutboxMessage.id).desc(), limit=limit, offset=offset)


def search(
    *,
    order_number: str | None = None,
    recipient: str | None = None,
    status: str | None = None,
    kind: str | None = None,
) -> SelectOfScalar[OutboxMessage]:
    """The query for messages by order, recipient (part of an address), status and kind."""
    query = select(OutboxMessage)
    if order_number:
        query = query.where(OutboxMessage.order_number == order_number)
    if recipient:
        recipients = col(OutboxMessage.recipients)
        query = query.where(recipients.contains(recipient.lower(), autoescape=True))
    if status:
        query = query.where(OutboxMessage.status == status)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return query


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
    dispatch: bool = True,
) -> OutboxMessage:
    """Compose and store a notification about `order` in the caller's transaction.

    This is the transactional outbox: the business change and the mail it causes commit
    together, and the outbox dispatcher sends pending rows later. `dispatch=False` is for the
    `send_notification` activity, which sends the row itself (the dispatcher leaves it alone).
    A second call with the same key returns the stored message and changes nothing.
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
        dispatch=dispatch,
    )


def count_with_key_prefix(*, session: Session, prefix: str) -> int:
    """How many messages have a key starting with `prefix` (the sends of one document)."""
    return int(
        session.exec(
            select(func.count()).where(col(OutboxMessage.key).startswith(prefix, autoescape=True))
        ).one()
    )


def queue_stock_purchase(
    *, session: Session, key: str, purchase: PurchaseOrder, app_url: str
) -> OutboxMessage:
    """Compose and store the mail of a stock purchase order to its supplier (outbox, in the
    caller's transaction; once per `key`)."""
    existing = get_by_key(session=session, key=key)
    if existing is not None:
        return existing
    composition = compose_stock_purchase(session=session, purchase=purchase, app_url=app_url)
    return enqueue(
        session=session,
        key=key,
        kind="purchase_order",
        order_number=None,
        recipients=composition.recipients,
        mail=render("purchase_order", composition.context),
    )


def list_waiting(*, session: Session, limit: int = 20) -> list[OutboxMessage]:
    """Dispatcher mail that failed at least once and still waits to go out, most tried first."""
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING)
        .where(col(OutboxMessage.dispatch).is_(True))
        .where(OutboxMessage.attempts > 0)
        .order_by(col(OutboxMessage.attempts).desc(), col(OutboxMessage.id))
        .limit(limit)
    )
    return list(session.exec(query).all())
