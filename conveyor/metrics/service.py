"""The business gauges, counted in a few grouped queries (cheap at any size: indexed columns)."""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from conveyor.notification.models import OutboxMessage, OutboxStatus
from conveyor.order.enums import OrderStatus
from conveyor.order.models import SalesOrder
from conveyor.outbound.models import DeliveryStatus, OutboundDelivery
from conveyor.task.models import Task, TaskStatus
from conveyor.webhook.models import Outcome, WebhookDelivery


@dataclass(frozen=True)
class Counts:
    """What the gauges show; every known status is present (0 when none), so labels stay put."""

    orders: dict[str, int] = field(default_factory=dict)
    tasks_open: int = 0
    tasks_overdue: int = 0
    outbox_pending: int = 0
    outbound: dict[str, int] = field(default_factory=dict)
    webhooks: dict[str, int] = field(default_factory=dict)


def _grouped(session: Session, column: Any, known: type[StrEnum]) -> dict[str, int]:
    rows = session.exec(select(column, func.count()).group_by(column)).all()
    counts = {str(value): 0 for value in known}
    counts.update({str(value): int(n) for value, n in rows if value is not None})
    return counts


def count(*, session: Session, now: datetime) -> Counts:
    """Orders by status, open and overdue tasks, pending mail, outbound and inbound webhooks."""
    open_tasks = select(func.count()).select_from(Task).where(col(Task.status) == TaskStatus.OPEN)
    overdue = open_tasks.where(col(Task.due_at) < now)
    pending_mail = (
        select(func.count())
        .select_from(OutboxMessage)
        .where(col(OutboxMessage.status) == OutboxStatus.PENDING)
    )
    return Counts(
        orders=_grouped(session, col(SalesOrder.status), OrderStatus),
        tasks_open=session.exec(open_tasks).one(),
        tasks_overdue=session.exec(overdue).one(),
        outbox_pending=session.exec(pending_mail).one(),
        outbound=_grouped(session, col(OutboundDelivery.status), DeliveryStatus),
        webhooks=_grouped(session, col(WebhookDelivery.outcome), Outcome),
    )
