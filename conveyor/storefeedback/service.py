"""Store feedback rows: written with their effect, claimed by the dispatcher, marked or retried.

`fulfilled` (a shipment left) and `cancelled` (an order cancelled in Conveyor) are called in
the transaction of the effect, so a rolled-back effect reports nothing; each row is keyed by
order, shipment and action, so a retried effect writes it once. The outbound dispatcher
(activities/outbound_activities.py) sends due rows (conveyor/storefeedback/stores.py); a 2xx
marks a row sent and it is never sent again, anything else backs it off like a webhook.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import delete
from sqlmodel import Session, col, or_, select

from conveyor.audit.service import Actor, record
from conveyor.core.backoff import Backoff
from conveyor.core.models import utcnow
from conveyor.order.models import OrderLine, SalesOrder
from conveyor.shipping.models import Shipment, ShipmentLine, ShipmentStatus
from conveyor.storefeedback.models import FeedbackAction, FeedbackStatus, StoreFeedback
from conveyor.webhook.models import StoreOrder

PROVIDERS = ("shopify", "woocommerce")  # the stores that can be told (not Stripe)
LEFT = (ShipmentStatus.SHIPPED, ShipmentStatus.DELIVERED, ShipmentStatus.FAILED)


class ShipmentLike(Protocol):
    number: int
    carrier: str | None
    service: str | None
    tracking: str | None
    tracking_url: str | None


class LineLike(Protocol):
    sku: str
    qty: int


def _write(
    session: Session, order: SalesOrder, key: str, action: FeedbackAction, payload: dict[str, Any]
) -> StoreFeedback | None:
    store_order = session.exec(
        select(StoreOrder).where(StoreOrder.order_id == (order.id or 0))
    ).first()
    if store_order is None or store_order.provider not in PROVIDERS:
        return None
    existing = session.exec(select(StoreFeedback).where(StoreFeedback.key == key)).first()
    if existing is not None:
        return existing
    row = StoreFeedback(
        key=key,
        order_id=order.id or 0,
        store=store_order.store,
        provider=store_order.provider,
        external_id=store_order.external_id,
        action=action,
        payload=payload,
    )
    session.add(row)
    session.flush()
    return row


def fulfilled(
    session: Session, order: SalesOrder, shipment: ShipmentLike, lines: Sequence[LineLike]
) -> StoreFeedback | None:
    """A store order's shipment left: tell the store (once per shipment), with its tracking."""
    payload = {
        "order_number": order.number,
        "shipment": shipment.number,
        "carrier": shipment.carrier,
        "service": shipment.service,
        "tracking": shipment.tracking,
        "tracking_url": shipment.tracking_url,
        "lines": [{"sku": ln.sku, "qty": ln.qty} for ln in lines],
        "complete": _all_shipped(session, order.id or 0),
    }
    key = f"{order.number}:s{shipment.number}:{FeedbackAction.FULFIL}"
    return _write(session, order, key, FeedbackAction.FULFIL, payload)


def _all_shipped(session: Session, order_id: int) -> bool:
    """Every unit of the order in a shipment that left (this one included)."""
    ordered = sum(
        ln.qty for ln in session.exec(select(OrderLine).where(OrderLine.order_id == order_id))
    )
    shipped = sum(
        ln.qty
        for ln in session.exec(
            select(ShipmentLine)
            .join(Shipment, col(Shipment.id) == col(ShipmentLine.shipment_id))
            .where(Shipment.order_id == order_id)
            .where(col(Shipment.status).in_(LEFT))
        )
    )
    return shipped >= ordered


def cancelled(session: Session, order: SalesOrder, reason: str | None) -> StoreFeedback | None:
    """A store order was cancelled in Conveyor: tell the store (once)."""
    payload = {"order_number": order.number, "reason": reason or None}
    key = f"{order.number}:{FeedbackAction.CANCEL}"
    return _write(session, order, key, FeedbackAction.CANCEL, payload)


def refunded(
    session: Session,
    order: SalesOrder,
    *,
    reference: str,
    amount: Decimal,
    currency: str,
    lines: Sequence[tuple[str, int]],
    reason: str,
) -> StoreFeedback | None:
    """Conveyor refunded a store order (a return's refund, `reference` its RMA): tell the store
    once, with the amount and the (sku, qty) given back."""
    payload = {
        "order_number": order.number,
        "reference": reference,
        "amount": f"{amount:.2f}",
        "currency": currency,
        "lines": [{"sku": sku, "qty": qty} for sku, qty in lines],
        "reason": reason,
    }
    key = f"{order.number}:{reference}:{FeedbackAction.REFUND}"
    return _write(session, order, key, FeedbackAction.REFUND, payload)


def unsent(*, session: Session, order_id: int) -> list[StoreFeedback]:
    """The order's rows the store has not taken yet (pending or failed) or refused as done
    already (what its order page tells of), oldest first."""
    return list(
        session.exec(
            select(StoreFeedback)
            .where(StoreFeedback.order_id == order_id)
            .where(StoreFeedback.status != FeedbackStatus.SENT)
            .order_by(col(StoreFeedback.id))
        ).all()
    )


def refused(*, session: Session, limit: int = 50) -> list[StoreFeedback]:
    """Rows a store refused and has not taken since (waiting for a retry, or failed), oldest
    first: what the monitor lists."""
    return list(
        session.exec(
            select(StoreFeedback)
            .where(col(StoreFeedback.status).in_([FeedbackStatus.PENDING, FeedbackStatus.FAILED]))
            .where(col(StoreFeedback.last_error).is_not(None))
            .order_by(col(StoreFeedback.id))
            .limit(limit)
        ).all()
    )


def for_order(*, session: Session, order_id: int) -> list[StoreFeedback]:
    """Every row of the order, oldest first."""
    return list(
        session.exec(
            select(StoreFeedback)
            .where(StoreFeedback.order_id == order_id)
            .order_by(col(StoreFeedback.id))
        ).all()
    )


# ---- the dispatcher's side ---------------------------------------------------------------------


def purge(*, session: Session, now: datetime, retention_seconds: float, limit: int = 500) -> int:
    """Delete up to `limit` rows the store took (sent, or had already) more than
    `retention_seconds` ago; pending and failed ones stay. How many went."""
    ids = list(
        session.exec(
            select(StoreFeedback.id)
            .where(col(StoreFeedback.status).in_([FeedbackStatus.SENT, FeedbackStatus.ALREADY]))
            .where(col(StoreFeedback.sent_at) < now - timedelta(seconds=retention_seconds))
            .order_by(col(StoreFeedback.id))
            .limit(limit)
        ).all()
    )
    if ids:
        session.execute(delete(StoreFeedback).where(col(StoreFeedback.id).in_(ids)))
        record(
            session,
            actor=Actor.system(),
            action="storefeedback.purge",
            entity="storefeedback",
            entity_id=f"{ids[0]}-{ids[-1]}",
            after={"deleted": len(ids)},
        )
        session.flush()
    return len(ids)


def claim_due(
    *, session: Session, now: datetime, lease_until: datetime, limit: int
) -> list[StoreFeedback]:
    """Claim up to `limit` due rows, oldest first, until `lease_until` (the caller commits)."""
    query = (
        select(StoreFeedback)
        .where(StoreFeedback.status == FeedbackStatus.PENDING)
        .where(
            or_(
                col(StoreFeedback.next_attempt_at).is_(None),
                col(StoreFeedback.next_attempt_at) <= now,
            )
        )
        .where(
            or_(
                col(StoreFeedback.claimed_until).is_(None),
                col(StoreFeedback.claimed_until) <= now,
            )
        )
        .order_by(col(StoreFeedback.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list(session.exec(query).all())
    for row in rows:
        row.claimed_until = lease_until
        session.add(row)
    session.flush()
    return rows


def release(*, session: Session, ids: list[int], lease_until: datetime) -> None:
    """End this claim on rows not tried yet (unless claimed anew meanwhile)."""
    for row in session.exec(select(StoreFeedback).where(col(StoreFeedback.id).in_(ids))).all():
        if row.status == FeedbackStatus.PENDING and row.claimed_until == lease_until:
            row.claimed_until = None
            session.add(row)
    session.flush()


def mark_sent(
    *, session: Session, feedback_id: int, status_code: int, already: str | None = None
) -> None:
    """The store answered 2xx (or had the effect already): never sent again. `already` is the
    store's refusal of it as done there (a 422: cancelled or fulfilled already), kept to show."""
    row = session.get(StoreFeedback, feedback_id)
    if row is None or row.status in (FeedbackStatus.SENT, FeedbackStatus.ALREADY):
        return
    row.status = FeedbackStatus.ALREADY if already else FeedbackStatus.SENT
    row.attempts += 1
    row.last_status = status_code
    row.last_error = already[:2000] if already else None
    row.sent_at = utcnow()
    row.next_attempt_at = row.claimed_until = None
    session.add(row)


def record_failure(
    *,
    session: Session,
    feedback_id: int,
    status_code: int | None,
    error: str,
    backoff: Backoff,
    retry_window: timedelta,
) -> None:
    """Count a failed attempt; due again after its backoff, or failed once the window closed."""
    row = session.get(StoreFeedback, feedback_id)
    if row is None or row.status != FeedbackStatus.PENDING:
        return
    now = utcnow()
    row.attempts += 1
    row.last_status = status_code
    row.last_error = error[:2000]
    row.claimed_until = None
    if now >= row.retry_from + retry_window:
        row.status = FeedbackStatus.FAILED
        row.next_attempt_at = None
    else:
        row.next_attempt_at = min(now + backoff.delay(row.attempts), row.retry_from + retry_window)
    session.add(row)
