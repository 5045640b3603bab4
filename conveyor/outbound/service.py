"""Outbound webhooks: subscriptions kept, events emitted with their effects, deliveries tried.

`emit` is the transactional outbox: the caller's transaction writes the event and one delivery
row per active subscription that wants it, so the effect and its announcement commit together.
The outbound dispatcher (activities/outbound_activities.py) claims due deliveries with a lease,
POSTs them signed, and marks them delivered or backs them off, until the retry window closes.
"""

import json
import secrets
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, or_, select

from conveyor.audit.service import Actor, record
from conveyor.core.backoff import Backoff
from conveyor.core.db import page
from conveyor.core.models import row_id, utcnow
from conveyor.outbound.models import (
    DeliveryPublic,
    DeliveryStatus,
    EventType,
    OutboundDelivery,
    OutboundEvent,
    OutboundSubscription,
    SubscriptionCreate,
    SubscriptionUpdate,
)

AUDITED_FIELDS = ("url", "events", "active", "description")


def new_secret() -> str:
    """A fresh signing secret (`whsec_` and 48 hex digits)."""
    return f"whsec_{secrets.token_hex(24)}"


def _snapshot(subscription: OutboundSubscription) -> dict[str, Any]:
    # Never the secret: the audit log is read by more people than the secret is for.
    return {name: getattr(subscription, name) for name in AUDITED_FIELDS}


def _events(events: list[EventType]) -> list[str]:
    return [str(e) for e in dict.fromkeys(events)]  # once each, in the order given


# ---- subscriptions -----------------------------------------------------------------------------


def get(*, session: Session, subscription_id: int) -> OutboundSubscription | None:
    """The subscription, or None."""
    return session.get(OutboundSubscription, subscription_id)


def list_subscriptions(
    *, session: Session, active: bool | None = None, limit: int = 100, offset: int = 0
) -> tuple[list[OutboundSubscription], int]:
    """Subscriptions by id, optionally only the active (or inactive) ones, with the count."""
    query = select(OutboundSubscription)
    if active is not None:
        query = query.where(col(OutboundSubscription.active).is_(active))
    return page(session, query, col(OutboundSubscription.id), limit=limit, offset=offset)


def create(
    *, session: Session, subscription_in: SubscriptionCreate, actor: Actor
) -> OutboundSubscription:
    """A new subscription with a fresh secret (the caller shows it once), audited."""
    subscription = OutboundSubscription(
        url=str(subscription_in.url),
        events=_events(subscription_in.events),
        description=subscription_in.description,
        active=subscription_in.active,
        secret=new_secret(),
    )
    session.add(subscription)
    session.flush()
    record(
        session,
        actor=actor,
        action="outbound.subscription_create",
        entity="webhook_subscription",
        entity_id=subscription.id,
        after=_snapshot(subscription),
    )
    return subscription


def update(
    *,
    session: Session,
    subscription: OutboundSubscription,
    changes: SubscriptionUpdate,
    actor: Actor,
) -> OutboundSubscription:
    """Change the fields given (url, events, description, active), audited."""
    before = _snapshot(subscription)
    data = changes.model_dump(exclude_unset=True)
    if data.get("url") is not None:
        subscription.url = str(changes.url)
    if changes.events is not None:
        subscription.events = _events(changes.events)
    if changes.description is not None:
        subscription.description = changes.description
    if changes.active is not None:
        subscription.active = changes.active
    subscription.updated_at = utcnow()
    session.add(subscription)
    session.flush()
    record(
        session,
        actor=actor,
        action="outbound.subscription_update",
        entity="webhook_subscription",
        entity_id=subscription.id,
        before=before,
        after=_snapshot(subscription),
    )
    return subscription


def deactivate(
    *,
    session: Session,
    subscription: OutboundSubscription,
    actor: Actor,
    reason: str | None = None,
) -> OutboundSubscription:
    """Stop delivering to it (its pending deliveries wait; reactivating sends them), audited
    with the `reason` given."""
    before = _snapshot(subscription)
    subscription.active = False
    subscription.updated_at = utcnow()
    session.add(subscription)
    session.flush()
    record(
        session,
        actor=actor,
        action="outbound.subscription_deactivate",
        entity="webhook_subscription",
        entity_id=subscription.id,
        before={"active": before["active"]},
        after={"active": False, "reason": reason},
    )
    return subscription


def rotate_secret(
    *, session: Session, subscription: OutboundSubscription, actor: Actor
) -> OutboundSubscription:
    """A new secret at once: the next attempt is signed with it (the old one stops working)."""
    subscription.secret = new_secret()
    subscription.updated_at = utcnow()
    session.add(subscription)
    session.flush()
    record(
        session,
        actor=actor,
        action="outbound.secret_rotate",
        entity="webhook_subscription",
        entity_id=subscription.id,
        after={"url": subscription.url},
    )
    return subscription


# ---- events ------------------------------------------------------------------------------------


def emit(
    session: Session,
    event_type: EventType | str,
    payload: dict[str, Any],
    *,
    key: str | None = None,
) -> OutboundEvent:
    """Record an event in the caller's transaction, with a delivery for each subscriber to it.

    Call it where the effect is written, before that transaction commits. `payload` is plain
    JSON (strings for money and times). A `key` names the effect ("order.created:SO-000123"):
    a second call with it returns the stored event and adds nothing.
    """
    kind = EventType(event_type)
    if key is not None:
        existing = session.exec(select(OutboundEvent).where(OutboundEvent.key == key)).first()
        if existing is not None:
            return existing
    event = OutboundEvent(
        event_id=f"evt_{uuid.uuid4().hex}",
        key=key,
        type=kind,
        payload=json.loads(json.dumps(payload, default=_plain)),
    )
    session.add(event)
    session.flush()
    subscribers = session.exec(
        select(OutboundSubscription)
        .where(col(OutboundSubscription.active).is_(True))
        .order_by(col(OutboundSubscription.id))
    ).all()
    for subscription in subscribers:
        if kind in subscription.events:
            session.add(
                OutboundDelivery(event_id=row_id(event), subscription_id=row_id(subscription))
            )
    session.flush()
    return event


def _plain(value: Any) -> str:
    # JSON for what a payload may hold beyond it: times as ISO 8601, Decimals and ids as text.
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def body(event: OutboundEvent) -> bytes:
    """The JSON body every delivery of `event` carries (the same bytes on each attempt)."""
    document = {
        "id": event.event_id,
        "type": event.type,
        "created_at": event.created_at.isoformat(),
        "data": event.payload,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


# ---- deliveries --------------------------------------------------------------------------------


PURGE_BATCH = 500


def purge(
    *, session: Session, now: datetime, retention_seconds: float, limit: int = PURGE_BATCH
) -> int:
    """Delete up to `limit` deliveries delivered more than `retention_seconds` ago, then the
    events as old with no delivery left (pending, failed ones stay for a replay). How many
    deliveries and events went; call again while it is `limit` or more."""
    before = now - timedelta(seconds=retention_seconds)
    ids = list(
        session.exec(
            select(OutboundDelivery.id)
            .where(OutboundDelivery.status == DeliveryStatus.DELIVERED)
            .where(col(OutboundDelivery.delivered_at) < before)
            .order_by(col(OutboundDelivery.id))
            .limit(limit)
        ).all()
    )
    if ids:
        session.execute(delete(OutboundDelivery).where(col(OutboundDelivery.id).in_(ids)))
    left = select(OutboundDelivery.id).where(OutboundDelivery.event_id == OutboundEvent.id)
    events = list(
        session.exec(
            select(OutboundEvent.id)
            .where(col(OutboundEvent.created_at) < before)
            .where(~left.exists())
            .order_by(col(OutboundEvent.id))
            .limit(limit)
        ).all()
    )
    if events:
        session.execute(delete(OutboundEvent).where(col(OutboundEvent.id).in_(events)))
    if ids or events:
        record(
            session,
            actor=Actor.system(),
            action="outbound.purge",
            entity="outbound_delivery",
            entity_id=f"{ids[0]}-{ids[-1]}" if ids else None,
            after={"deliveries": len(ids), "events": len(events)},
        )
    session.flush()
    return len(ids) + len(events)


def claim_due(
    *, session: Session, now: datetime, lease_until: datetime, limit: int
) -> list[tuple[OutboundDelivery, OutboundEvent, OutboundSubscription]]:
    """Claim up to `limit` due deliveries of active subscriptions, oldest first, until
    `lease_until` (as `notification.service.claim_due` does for mail; the caller commits)."""
    query = (
        select(OutboundDelivery, OutboundEvent, OutboundSubscription)
        .join(OutboundEvent, col(OutboundEvent.id) == col(OutboundDelivery.event_id))
        .join(
            OutboundSubscription,
            col(OutboundSubscription.id) == col(OutboundDelivery.subscription_id),
        )
        .where(OutboundDelivery.status == DeliveryStatus.PENDING)
        .where(col(OutboundSubscription.active).is_(True))
        .where(
            or_(
                col(OutboundDelivery.next_attempt_at).is_(None),
                col(OutboundDelivery.next_attempt_at) <= now,
            )
        )
        .where(
            or_(
                col(OutboundDelivery.claimed_until).is_(None),
                col(OutboundDelivery.claimed_until) <= now,
            )
        )
        .order_by(col(OutboundDelivery.id))
        .limit(limit)
        .with_for_update(skip_locked=True, of=OutboundDelivery)
    )
    rows = [(d, e, s) for d, e, s in session.exec(query).all()]
    for delivery, _, _ in rows:
        delivery.claimed_until = lease_until
        session.add(delivery)
    session.flush()
    return rows


def release(*, session: Session, delivery_ids: list[int], lease_until: datetime) -> None:
    """End this claim on deliveries not tried yet (unless claimed anew meanwhile)."""
    rows = session.exec(
        select(OutboundDelivery)
        .where(col(OutboundDelivery.id).in_(delivery_ids))
        .where(OutboundDelivery.status == DeliveryStatus.PENDING)
    ).all()
    for delivery in rows:
        if delivery.claimed_until == lease_until:
            delivery.claimed_until = None
            session.add(delivery)
    session.flush()


def mark_delivered(*, session: Session, delivery_id: int, status_code: int) -> None:
    """The subscriber answered 2xx."""
    delivery = session.get(OutboundDelivery, delivery_id)
    if delivery is None or delivery.status == DeliveryStatus.DELIVERED:
        return
    delivery.status = DeliveryStatus.DELIVERED
    delivery.attempts += 1
    delivery.last_status = status_code
    delivery.last_error = None
    delivery.delivered_at = utcnow()
    delivery.next_attempt_at = delivery.claimed_until = None
    session.add(delivery)


def record_failure(
    *,
    session: Session,
    delivery_id: int,
    status_code: int | None,
    error: str,
    backoff: Backoff,
    retry_window: timedelta,
) -> None:
    """Count a failed attempt; due again after its backoff, or failed once the window closed."""
    delivery = session.get(OutboundDelivery, delivery_id)
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return
    now = utcnow()
    delivery.attempts += 1
    delivery.last_status = status_code
    delivery.last_error = error[:2000]
    delivery.claimed_until = None
    due = now + backoff.delay(delivery.attempts)
    if now >= delivery.retry_from + retry_window:
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = None
    else:
        delivery.next_attempt_at = min(due, delivery.retry_from + retry_window)
    session.add(delivery)


def get_delivery(*, session: Session, delivery_id: int) -> OutboundDelivery | None:
    """The delivery, or None."""
    return session.get(OutboundDelivery, delivery_id)


def replay(*, session: Session, delivery: OutboundDelivery, actor: Actor) -> OutboundDelivery:
    """Send the event again (delivered or failed or waiting): due now, a fresh retry window."""
    before = {"status": delivery.status, "attempts": delivery.attempts}
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = None
    delivery.retry_from = utcnow()
    delivery.replays += 1
    session.add(delivery)
    session.flush()
    event = session.get(OutboundEvent, delivery.event_id)
    record(
        session,
        actor=actor,
        action="outbound.replay",
        entity="webhook_subscription",
        entity_id=delivery.subscription_id,
        before=before,
        after={
            "delivery": delivery.id,
            "event_id": event.event_id if event else None,
            "status": DeliveryStatus.PENDING,
        },
    )
    return delivery


def list_deliveries(
    *,
    session: Session,
    subscription_id: int,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[DeliveryPublic], int]:
    """A subscription's delivery log, newest first, with the count."""
    query = (
        select(OutboundDelivery)
        .where(OutboundDelivery.subscription_id == subscription_id)
        .order_by(col(OutboundDelivery.id).desc())
    )
    if status:
        query = query.where(OutboundDelivery.status == status)
    rows, count = page(session, query, col(OutboundDelivery.id).desc(), limit=limit, offset=offset)
    events = {
        e.id: e
        for e in session.exec(
            select(OutboundEvent).where(col(OutboundEvent.id).in_([d.event_id for d in rows]))
        ).all()
    }
    return [as_public(d, events[d.event_id]) for d in rows], count


def as_public(delivery: OutboundDelivery, event: OutboundEvent) -> DeliveryPublic:
    """A delivery with its event's id and type, as the log shows it."""
    return DeliveryPublic.model_validate(
        delivery.model_dump() | {"event_id": event.event_id, "event_type": event.type}
    )
