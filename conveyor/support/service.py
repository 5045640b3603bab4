"""Support messages and order activities: add and list per order."""

from datetime import datetime

from sqlmodel import Session, col, select

from conveyor.support.models import ActivityKind, AuthorKind, OrderActivity, SupportMessage


class SupportError(Exception):
    """A message or activity that breaks a rule (empty text, unknown kind)."""


def add_message(
    *, session: Session, order_id: int, author_kind: AuthorKind, author: str, body: str
) -> SupportMessage:
    """Append a message to the order's support history."""
    body = body.strip()
    if not body:
        raise SupportError("a message needs some text")
    if len(body) > 4000:
        raise SupportError("a message holds at most 4000 characters")
    message = SupportMessage(order_id=order_id, author_kind=author_kind, author=author, body=body)
    session.add(message)
    session.flush()
    return message


def list_messages(*, session: Session, order_id: int) -> list[SupportMessage]:
    """The order's support history, oldest first."""
    return list(
        session.exec(
            select(SupportMessage)
            .where(SupportMessage.order_id == order_id)
            .order_by(col(SupportMessage.id))
        )
    )


def add_activity(
    *,
    session: Session,
    order_id: int,
    kind: str,
    subject: str,
    created_by: str,
    body: str = "",
    due_at: datetime | None = None,
) -> OrderActivity:
    """Attach a note, call, meeting, delivery window or follow-up to the order."""
    if kind not in set(ActivityKind):
        raise SupportError(f"unknown activity kind {kind!r}")
    subject = subject.strip()
    if not subject:
        raise SupportError("an activity needs a subject")
    activity = OrderActivity(
        order_id=order_id,
        kind=kind,
        subject=subject[:200],
        body=body.strip()[:4000],
        due_at=due_at,
        created_by=created_by,
    )
    session.add(activity)
    session.flush()
    return activity


def list_activities(*, session: Session, order_id: int) -> list[OrderActivity]:
    """The order's activities, oldest first."""
    return list(
        session.exec(
            select(OrderActivity)
            .where(OrderActivity.order_id == order_id)
            .order_by(col(OrderActivity.id))
        )
    )


def list_messages_for_orders(*, session: Session, order_ids: list[int]) -> list[SupportMessage]:
    """Support messages of several orders (a customer's), newest first."""
    if not order_ids:
        return []
    return list(
        session.exec(
            select(SupportMessage)
            .where(col(SupportMessage.order_id).in_(order_ids))
            .order_by(col(SupportMessage.id).desc())
        )
    )
