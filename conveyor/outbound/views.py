"""Outbound webhook subscriptions and their delivery logs (`/api/webhook-subscriptions`, admin)."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep, SessionDep, require
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.outbound import service as outbound_service
from conveyor.outbound.models import (
    DeliveriesPublic,
    DeliveryPublic,
    DeliveryStatus,
    OutboundEvent,
    OutboundSubscription,
    SubscriptionCreate,
    SubscriptionPublic,
    SubscriptionsPublic,
    SubscriptionUpdate,
    SubscriptionWithSecret,
)

router = APIRouter()
Manager = Annotated[Principal, require(Permission.WEBHOOKS_MANAGE)]


def _subscription(session: Session, subscription_id: int) -> OutboundSubscription:
    subscription = outbound_service.get(session=session, subscription_id=subscription_id)
    if subscription is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"subscription {subscription_id} not found")
    return subscription


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SubscriptionWithSecret)
def create_subscription(
    subscription_in: SubscriptionCreate, session: SessionDep, principal: Manager
) -> SubscriptionWithSecret:
    """Subscribe a URL (http or https) to events; the answer shows its secret, this once."""
    subscription = outbound_service.create(
        session=session, subscription_in=subscription_in, actor=principal.actor(Source.API)
    )
    return SubscriptionWithSecret.model_validate(subscription)


@router.get("", response_model=SubscriptionsPublic)
def list_subscriptions(
    session: ReadSessionDep,
    _: Manager,
    active: bool | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 100,
) -> SubscriptionsPublic:
    """The subscriptions (without their secrets)."""
    rows, count = outbound_service.list_subscriptions(
        session=session, active=active, limit=page_size, offset=(page - 1) * page_size
    )
    return SubscriptionsPublic(
        data=[SubscriptionPublic.model_validate(s) for s in rows], count=count
    )


@router.get("/{subscription_id}", response_model=SubscriptionPublic)
def read_subscription(
    subscription_id: int, session: ReadSessionDep, _: Manager
) -> SubscriptionPublic:
    """One subscription (without its secret)."""
    return SubscriptionPublic.model_validate(_subscription(session, subscription_id))


@router.patch("/{subscription_id}", response_model=SubscriptionPublic)
def update_subscription(
    subscription_id: int, changes: SubscriptionUpdate, session: SessionDep, principal: Manager
) -> SubscriptionPublic:
    """Change its URL, events, description or `active` (true reactivates it)."""
    subscription = outbound_service.update(
        session=session,
        subscription=_subscription(session, subscription_id),
        changes=changes,
        actor=principal.actor(Source.API),
    )
    return SubscriptionPublic.model_validate(subscription)


@router.delete("/{subscription_id}", response_model=SubscriptionPublic)
def deactivate_subscription(
    subscription_id: int, session: SessionDep, principal: Manager
) -> SubscriptionPublic:
    """Deactivate it: nothing more is sent; its log stays, and PATCH `active` resumes it."""
    subscription = outbound_service.deactivate(
        session=session,
        subscription=_subscription(session, subscription_id),
        actor=principal.actor(Source.API),
    )
    return SubscriptionPublic.model_validate(subscription)


@router.post("/{subscription_id}/rotate-secret", response_model=SubscriptionWithSecret)
def rotate_secret(
    subscription_id: int, session: SessionDep, principal: Manager
) -> SubscriptionWithSecret:
    """A new secret, shown this once; every attempt from now on is signed with it."""
    subscription = outbound_service.rotate_secret(
        session=session,
        subscription=_subscription(session, subscription_id),
        actor=principal.actor(Source.API),
    )
    return SubscriptionWithSecret.model_validate(subscription)


@router.get("/{subscription_id}/deliveries", response_model=DeliveriesPublic)
def list_deliveries(
    subscription_id: int,
    session: ReadSessionDep,
    _: Manager,
    delivery_status: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveriesPublic:
    """Its delivery log, newest first: attempts, last status and error, next attempt."""
    _subscription(session, subscription_id)
    rows, count = outbound_service.list_deliveries(
        session=session,
        subscription_id=subscription_id,
        status=delivery_status,
        limit=page_size,
        offset=(page - 1) * page_size,
    )
    return DeliveriesPublic(data=rows, count=count)


@router.post("/{subscription_id}/deliveries/{delivery_id}/replay", response_model=DeliveryPublic)
def replay_delivery(
    subscription_id: int, delivery_id: int, session: SessionDep, principal: Manager
) -> DeliveryPublic:
    """Send the event again now (same event id), whatever became of it before."""
    delivery = outbound_service.get_delivery(session=session, delivery_id=delivery_id)
    if delivery is None or delivery.subscription_id != subscription_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"delivery {delivery_id} not found")
    outbound_service.replay(session=session, delivery=delivery, actor=principal.actor(Source.API))
    event = session.get(OutboundEvent, delivery.event_id)
    assert event is not None  # a foreign key
    return outbound_service.as_public(delivery, event)
