"""Retention: the dispatcher deletes delivered webhooks, their events and the store feedback the
stores took once older than CONVEYOR_OUTBOUND_RETENTION_SECONDS; what is still due stays."""

from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import select
from temporalio.testing import ActivityEnvironment

from activities.outbound_activities import DrainOutboundInput, OutboundActivities
from conveyor.audit.models import AuditEntry
from conveyor.audit.service import Actor
from conveyor.core.db import session_scope
from conveyor.core.models import utcnow
from conveyor.core.settings import Settings
from conveyor.customer.models import Customer
from conveyor.order.models import SalesOrder
from conveyor.outbound import service as outbound_service
from conveyor.outbound.models import OutboundDelivery, OutboundEvent, SubscriptionCreate
from conveyor.storefeedback.models import StoreFeedback

DAY = timedelta(days=1)


def _seed(engine: Engine) -> None:
    """Four events of one subscription and four store feedback rows, old and new, done or not."""
    now = utcnow()
    with session_scope(engine) as session:
        outbound_service.create(
            session=session,
            subscription_in=SubscriptionCreate.model_validate(
                {"url": "http://127.0.0.1:9/hook", "events": ["order.created"]}
            ),
            actor=Actor.system(),
        )
        for name in ("old-delivered", "new-delivered", "old-pending", "old-failed"):
            outbound_service.emit(session, "order.created", {"number": name})
        session.flush()
        for delivery in session.exec(select(OutboundDelivery)).all():
            event = session.get(OutboundEvent, delivery.event_id)
            assert event is not None
            name = event.payload["number"]
            old = name.startswith("old")
            event.created_at = now - (40 * DAY if old else DAY)
            delivery.status = name.split("-")[1]
            if delivery.status == "delivered":
                delivery.delivered_at = event.created_at
            session.add_all([event, delivery])
        customer = Customer(name="Retention", email="retention@example.com")
        session.add(customer)
        session.flush()
        order = SalesOrder(number="RT-1", channel="web", customer_id=customer.id)
        session.add(order)
        session.flush()
        for key, status, age in (
            ("old-sent", "sent", 40),
            ("old-already", "already", 40),
            ("new-sent", "sent", 1),
            ("old-failed", "failed", 40),
        ):
            session.add(
                StoreFeedback(
                    key=key,
                    order_id=order.id or 0,
                    store="shopify",
                    provider="shopify",
                    external_id="1",
                    action="fulfil",
                    status=status,
                    sent_at=now - age * DAY if status != "failed" else None,
                    created_at=now - age * DAY,
                )
            )


async def test_the_dispatcher_purges_what_is_past_retention_and_keeps_what_is_due(
    engine: Engine, settings: Settings
) -> None:
    _seed(engine)
    settings = settings.model_copy(update={"outbound_retention_seconds": 30 * 86400.0})
    activities = OutboundActivities(engine, settings)
    # One short drain: it purges first (nothing is due to send: the pending one's subscriber
    # is unreachable and only backs off).
    await ActivityEnvironment().run(activities.drain_outbound, DrainOutboundInput(seconds=0.2))
    with session_scope(engine) as session:
        events = {e.payload["number"] for e in session.exec(select(OutboundEvent)).all()}
        feedback = {f.key for f in session.exec(select(StoreFeedback)).all()}
        audit = session.exec(
            select(AuditEntry.action).where(AuditEntry.action.like("%.purge"))  # type: ignore[attr-defined]
        ).all()
    assert events == {"new-delivered", "old-pending", "old-failed"}
    assert feedback == {"new-sent", "old-failed"}
    assert sorted(audit) == ["outbound.purge", "storefeedback.purge"]
    assert activities.purge() == 0  # nothing more to go
