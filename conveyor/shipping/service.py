"""Shipments: created by packing (and by a supplier's drop-ship confirmation), then tracked
until delivered or failed. Each change is audited in the caller's transaction, and
`status_changed` writes what the change causes (outbound events, trail, mails, the store
feedback) in that same transaction."""

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from conveyor.audit.service import Actor, record
from conveyor.core.errors import Conflict
from conveyor.core.models import utcnow
from conveyor.notification import service as outbox_service
from conveyor.order import service as order_service
from conveyor.order import trail
from conveyor.order.enums import OrderStatus, Step
from conveyor.order.models import SalesOrder
from conveyor.outbound import events as outbound_events
from conveyor.shipping.models import (
    DeliveryProof,
    Shipment,
    ShipmentDetails,
    ShipmentLine,
    ShipmentLinePublic,
    ShipmentPublic,
    ShipmentStatus,
)
from conveyor.storefeedback import service as store_feedback
from conveyor.task import service as task_service
from conveyor.task.models import Task


class ShipmentError(Conflict):
    """The shipment cannot change that way (e.g. it is delivered already)."""


Goods = Iterable[tuple[str, str, int]]  # (sku, name, qty)


def tracking_url(
    templates: Mapping[str, str], carrier: str | None, tracking: str | None
) -> str | None:
    """The carrier's tracking page for `tracking`, from its template (`{tracking}` in it)."""
    if not carrier or not tracking:
        return None
    template = templates.get(carrier.lower())
    return template.replace("{tracking}", tracking) if template else None


def for_order(*, session: Session, order_id: int) -> list[Shipment]:
    """The order's shipments, by number."""
    return list(
        session.exec(
            select(Shipment).where(Shipment.order_id == order_id).order_by(col(Shipment.number))
        )
    )


def get(*, session: Session, order_id: int, number: int) -> Shipment | None:
    return session.exec(
        select(Shipment).where(Shipment.order_id == order_id).where(Shipment.number == number)
    ).first()


def by_key(*, session: Session, key: str) -> Shipment | None:
    return session.exec(select(Shipment).where(Shipment.key == key)).first()


def by_tracking(*, session: Session, tracking: str) -> Shipment | None:
    """The latest shipment with that tracking number."""
    return session.exec(
        select(Shipment).where(Shipment.tracking == tracking).order_by(col(Shipment.id).desc())
    ).first()


def lines(*, session: Session, shipment_id: int) -> list[ShipmentLine]:
    return list(
        session.exec(
            select(ShipmentLine)
            .where(ShipmentLine.shipment_id == shipment_id)
            .order_by(col(ShipmentLine.id))
        )
    )


def _number(session: Session, order_id: int, wanted: int) -> int:
    """`wanted` (the workflow's shipment number) when free, else the next free number (a
    drop-ship shipment took it)."""
    if get(session=session, order_id=order_id, number=wanted) is None:
        return wanted
    highest = session.exec(
        select(func.max(Shipment.number)).where(Shipment.order_id == order_id)
    ).one()
    return (highest or 0) + 1


def pack_key(order: SalesOrder, number: int) -> str:
    """The key of shipment `number`'s packing (the stock ledger's), as the workflow makes it."""
    return f"{order.number}:pack:s{number}" if order.allow_partial else f"{order.number}:pack"


def prepare(*, session: Session, key: str, order: SalesOrder, number: int) -> Shipment:
    """The shipment a packing will create (status packed, no lines yet), so staff can record
    its carrier and tracking on the packing task; the packing fills it in."""
    existing = by_key(session=session, key=key)
    if existing is not None:
        return existing
    shipment = Shipment(
        key=key,
        order_id=order.id or 0,
        order_number=order.number or "",
        number=_number(session, order.id or 0, max(number, 1)),
    )
    session.add(shipment)
    session.flush()
    return shipment


def record_shipped(
    *,
    session: Session,
    key: str,
    order: SalesOrder,
    number: int,
    goods: Goods,
    warehouse: str | None,
    templates: Mapping[str, str],
    app_url: str,
    purchase_order_number: str | None = None,
    tracking: str | None = None,
    delivered_at_once: bool = False,
    carrier: str | None = None,
    shipped_at: datetime | None = None,
) -> Shipment:
    """The packed (or supplier-shipped) goods as a shipment, once per `key`; the customer is
    told (`status_changed`). `delivered_at_once`: a counter sale, handed over on the spot."""
    shipment = prepare(session=session, key=key, order=order, number=number)
    if shipment.status != ShipmentStatus.PACKED:
        return shipment  # a retry: recorded already
    for sku, name, qty in goods:
        session.add(ShipmentLine(shipment_id=shipment.id or 0, sku=sku, name=name, qty=qty))
    shipment.warehouse = warehouse
    shipment.purchase_order_number = purchase_order_number
    if tracking and not shipment.tracking:
        shipment.tracking = tracking
    if carrier and not shipment.carrier:
        shipment.carrier = carrier
    shipment.tracking_url = shipment.tracking_url or tracking_url(
        templates, shipment.carrier, shipment.tracking
    )
    shipment.status = ShipmentStatus.SHIPPED
    shipment.shipped_at = shipped_at or utcnow()
    session.add(shipment)
    session.flush()
    status_changed(session=session, order=order, shipment=shipment, app_url=app_url)
    if delivered_at_once:
        shipment.status = ShipmentStatus.DELIVERED
        shipment.delivered_at = shipment.shipped_at
        session.add(shipment)
        session.flush()
        status_changed(session=session, order=order, shipment=shipment, app_url=app_url, tell=False)
    return shipment


def update_details(
    *,
    session: Session,
    order: SalesOrder,
    shipment: Shipment,
    details: ShipmentDetails,
    templates: Mapping[str, str],
    app_url: str,
    actor: Actor,
) -> Shipment:
    """Record carrier, service, tracking, packages, weight (the fields given); audited. A
    tracking number given after the shipped mail went out is mailed to the customer."""
    if shipment.status == ShipmentStatus.DELIVERED:
        raise ShipmentError(f"shipment {shipment.number} is delivered already")
    given = details.model_dump(exclude_unset=True)
    before = {name: getattr(shipment, name) for name in given}
    had_tracking = shipment.tracking
    for name, value in given.items():
        setattr(shipment, name, value)
    if "tracking_url" not in given and ("carrier" in given or "tracking" in given):
        shipment.tracking_url = tracking_url(templates, shipment.carrier, shipment.tracking)
    session.add(shipment)
    session.flush()
    record(
        session,
        actor=actor,
        action="shipment.updated",
        entity="shipment",
        entity_id=f"{shipment.order_number}/{shipment.number}",
        before=before,
        after={**given, "tracking_url": shipment.tracking_url},
    )
    if (
        shipment.status == ShipmentStatus.SHIPPED
        and shipment.tracking
        and shipment.tracking != had_tracking
    ):
        _mail(
            session,
            order,
            shipment,
            "order_shipped",
            f"{_suffix(shipment)}:{shipment.tracking}",
            app_url,
        )
    return shipment


def mark_delivered(
    *,
    session: Session,
    order: SalesOrder,
    shipment: Shipment,
    proof: DeliveryProof,
    actor: Actor,
    app_url: str,
    at: datetime | None = None,
) -> bool:
    """Delivered, with who signed and a note; audited. False: it was delivered already."""
    if shipment.status == ShipmentStatus.DELIVERED:
        return False
    if shipment.status == ShipmentStatus.PACKED:
        raise ShipmentError(f"shipment {shipment.number} has not shipped yet")
    before = shipment.status
    shipment.status = ShipmentStatus.DELIVERED
    shipment.delivered_at = at or proof.delivered_at or utcnow()
    shipment.signed_by = proof.signed_by
    shipment.delivery_note = proof.note
    session.add(shipment)
    session.flush()
    record(
        session,
        actor=actor,
        action="shipment.delivered",
        entity="shipment",
        entity_id=f"{shipment.order_number}/{shipment.number}",
        before={"status": before},
        after={"status": shipment.status, "signed_by": proof.signed_by, "note": proof.note},
    )
    status_changed(session=session, order=order, shipment=shipment, app_url=app_url)
    return True


def mark_failed(
    *,
    session: Session,
    order: SalesOrder,
    shipment: Shipment,
    reason: str,
    actor: Actor,
    app_url: str,
) -> bool:
    """The shipment failed (returned to sender, lost); audited. False: failed already."""
    if shipment.status == ShipmentStatus.FAILED:
        return False
    if shipment.status != ShipmentStatus.SHIPPED:
        raise ShipmentError(f"shipment {shipment.number} is {shipment.status}, not in transit")
    shipment.status = ShipmentStatus.FAILED
    shipment.failure_reason = reason
    session.add(shipment)
    session.flush()
    record(
        session,
        actor=actor,
        action="shipment.failed",
        entity="shipment",
        entity_id=f"{shipment.order_number}/{shipment.number}",
        before={"status": ShipmentStatus.SHIPPED},
        after={"status": shipment.status, "reason": reason},
    )
    status_changed(session=session, order=order, shipment=shipment, app_url=app_url)
    if order.status in (OrderStatus.COMPLETED, OrderStatus.CANCELLED):
        _follow_up_after_finish(session, order, shipment)
    return True


FOLLOW_UP_STEP, FOLLOW_UP_ROLE = Step.DELIVERY, "order_desk"  # as the workflow's own task


def follow_up_key(order_number: str, number: int) -> str:
    """The key of the order desk's task for a shipment that failed after its order finished."""
    return f"{order_number}:after:failed:{number}"


def is_follow_up(task: Task) -> bool:
    """A failed shipment's task opened after its order finished: no workflow waits for it, so
    completing it only records the outcome."""
    if task.order_number is None:
        return False
    prefix = follow_up_key(task.order_number, 0).removesuffix("0")
    return (
        task.step == FOLLOW_UP_STEP
        and task.key.startswith(prefix)
        and task.key.removeprefix(prefix).isdigit()
    )


def _follow_up_after_finish(session: Session, order: SalesOrder, shipment: Shipment) -> None:
    """The order's workflow has ended (a drop-ship shipment confirmed, the order paid and done,
    then lost): the order desk gets the task the workflow would have given it, once."""
    task = task_service.create_assigned(
        session=session,
        key=follow_up_key(order.number or "", shipment.number),
        order=order,
        step=FOLLOW_UP_STEP,
        role=FOLLOW_UP_ROLE,
    )
    order_service.add_event(
        session=session,
        key=f"failed-after:{shipment.number}",
        order=order,
        kind="shipment_failed",
        message=(
            f"shipment {shipment.number} failed after the order was {order.status}: "
            f"order desk task {task.id}"
        ),
    )


def status_changed(
    *, session: Session, order: SalesOrder, shipment: Shipment, app_url: str, tell: bool = True
) -> None:
    """What a shipment's new status causes, in the transaction that changed it: the outbound
    `order.shipped` / `order.delivered` events, the trail and (`tell`) the customer's mail.
    A store order's shipment also writes its store feedback (a Shopify fulfillment, a
    WooCommerce status and note), sent later by the outbound dispatcher. `tell=False`: a
    counter sale, delivered on the spot."""
    n = shipment.number
    goods = lines(session=session, shipment_id=shipment.id or 0)
    if shipment.status == ShipmentStatus.SHIPPED:
        outbound_events.order_shipped(session, order, shipment, goods)
        store_feedback.fulfilled(session, order, shipment, goods)
        _mail(session, order, shipment, "order_shipped", _suffix(shipment), app_url)
    elif shipment.status == ShipmentStatus.DELIVERED:
        outbound_events.order_delivered(session, order, shipment, goods)
        signed = f", signed by {shipment.signed_by}" if shipment.signed_by else ""
        _trail(session, order, f"delivered:{n}", "delivered", f"shipment {n} delivered{signed}")
        if tell:
            _mail(session, order, shipment, "order_delivered", f"delivered:n{n}", app_url)
    elif shipment.status == ShipmentStatus.FAILED:
        why = shipment.failure_reason or "no reason given"
        _trail(session, order, f"failed:{n}", "shipment_failed", f"shipment {n} failed: {why}")


def settled(*, session: Session, order_id: int, handled: Iterable[int] = ()) -> bool:
    """Every shipment delivered, or failed and followed up (`handled` numbers)."""
    done = set(handled)
    return all(
        s.status == ShipmentStatus.DELIVERED
        or (s.status == ShipmentStatus.FAILED and s.number in done)
        for s in for_order(session=session, order_id=order_id)
    )


def late(
    *, session: Session, order_id: int, within: timedelta, now: datetime | None = None
) -> tuple[list[int], float | None]:
    """The order's shipments in transit for longer than `within` (a delivery SLA), and the
    seconds until the next one in transit is (None: no other is on its way)."""
    now = now or utcnow()
    late_numbers, left = [], []
    for shipment in for_order(session=session, order_id=order_id):
        if shipment.status != ShipmentStatus.SHIPPED or shipment.shipped_at is None:
            continue
        remaining = (shipment.shipped_at + within - now).total_seconds()
        if remaining <= 0:
            late_numbers.append(shipment.number)
        else:
            left.append(remaining)
    return late_numbers, min(left, default=None)


def failed_numbers(*, session: Session, order_id: int) -> list[int]:
    return [
        s.number
        for s in for_order(session=session, order_id=order_id)
        if s.status == ShipmentStatus.FAILED
    ]


def deliver_all(*, session: Session, order: SalesOrder, actor: Actor, app_url: str) -> int:
    """Own-fleet delivery done (its task completed): every shipment in transit is delivered."""
    delivered = 0
    for shipment in for_order(session=session, order_id=order.id or 0):
        if shipment.status == ShipmentStatus.SHIPPED:
            delivered += mark_delivered(
                session=session,
                order=order,
                shipment=shipment,
                proof=DeliveryProof(note="delivered by our own fleet"),
                actor=actor,
                app_url=app_url,
            )
    return delivered


def to_public(*, session: Session, shipment: Shipment) -> ShipmentPublic:
    return ShipmentPublic(
        **shipment.model_dump(exclude={"id", "key", "order_id", "created_at"}),
        lines=[
            ShipmentLinePublic.model_validate(line)
            for line in lines(session=session, shipment_id=shipment.id or 0)
        ],
    )


def _suffix(shipment: Shipment) -> str:
    """The shipped mail's key suffix: as packing always keyed it (`shipped`, `shipped:s2`)."""
    if shipment.purchase_order_number:
        return f"shipped:{shipment.purchase_order_number}"
    return "shipped" if shipment.number <= 1 else f"shipped:s{shipment.number}"


def _trail(session: Session, order: SalesOrder, suffix: str, kind: str, message: str) -> None:
    trail.note(
        session=session,
        order=order,
        key=f"{order.number}:trail:{suffix}",
        kind=kind,
        message=message,
        step=Step.DELIVERY,
    )


def _mail(
    session: Session, order: SalesOrder, shipment: Shipment, kind: str, suffix: str, app_url: str
) -> None:
    outbox_service.queue(
        session=session,
        key=f"{order.number}:{suffix}",
        kind=kind,
        order=order,
        app_url=app_url,
        extra={"shipment": str(shipment.number)},
    )
