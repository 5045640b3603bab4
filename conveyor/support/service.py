"""Support messages and order activities: add and list per order."""

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from conveyor.audit.service import Actor, record
from conveyor.core.models import row_id
from conveyor.employee.models import Employee
from conveyor.notification import service as notification_service
from conveyor.order.models import SalesOrder
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


def post_message(
    *,
    session: Session,
    order: SalesOrder,
    author_kind: AuthorKind,
    author: str,
    body: str,
    app_url: str,
    actor: Actor,
) -> SupportMessage:
    """Add a message to the order's support history and, in the same transaction, the mail it
    causes (a staff reply to the customer; a customer's message to their rep or the order desk)
    and its audit entry."""
    message = add_message(
        session=session,
        order_id=row_id(order),
        author_kind=author_kind,
        author=author,
        body=body,
    )
    kind = "support_reply" if author_kind == AuthorKind.STAFF else "customer_message"
    notification_service.queue(
        session=session,
        key=f"support:{message.id}:{kind}",
        kind=kind,
        order=order,
        app_url=app_url,
        extra={"author": _signature(session, author_kind, author), "body": message.body},
    )
    record(
        session,
        actor=actor,
        action="order.message",
        entity="order",
        entity_id=order.number,
        after={"message_id": message.id, "author_kind": author_kind.value},
    )
    return message


def _signature(session: Session, author_kind: AuthorKind, author: str) -> str:
    """How a reply is signed for the customer: the employee's name, never their e-mail."""
    if author_kind != AuthorKind.STAFF:
        return author
    employee = session.exec(select(Employee).where(Employee.email == author)).first()
    return employee.name if employee else "Our team"


def unanswered(*, session: Session, limit: int = 200) -> list[SupportMessage]:
    """The latest message of each order whose support history ends with the customer's
    message (nobody answered yet), oldest first."""
    latest = (
        select(func.max(SupportMessage.id).label("id"))
        .group_by(col(SupportMessage.order_id))
        .subquery()
    )
    query = (
        select(SupportMessage)
        .join(latest, col(SupportMessage.id) == latest.c.id)
        .where(SupportMessage.author_kind == AuthorKind.CUSTOMER)
        .order_by(col(SupportMessage.id))
        .limit(limit)
    )
    return list(session.exec(query))


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
