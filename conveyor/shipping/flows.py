"""Shipment flows: record details and delivery in one transaction, then tell the order's
workflow (which waits for every shipment to be delivered)."""

import logging
from collections.abc import Callable

from sqlmodel import Session, col, select
from temporalio.service import RPCError

from conveyor.audit.service import Actor
from conveyor.core.errors import NotFound
from conveyor.core.state import AppState, in_session
from conveyor.order import flows as order_flows
from conveyor.order import read as order_read
from conveyor.order.enums import Step
from conveyor.order.models import SalesOrder
from conveyor.shipping import service as shipping_service
from conveyor.shipping.models import (
    DeliveryProof,
    Shipment,
    ShipmentDetails,
    ShipmentPublic,
    ShipmentStatus,
)
from conveyor.task.models import Task, TaskStatus
from workflows.types import SalesOrderNames, ShipmentDelivered

log = logging.getLogger(__name__)


class ShipmentNotFoundError(NotFound):
    """The order has no shipment with that number (and is not packing it)."""


def packing_now(session: Session, order: SalesOrder) -> int | None:
    """The shipment number whose packing task is open (`…:packing:task[:s<n>]`), if any."""
    task = session.exec(
        select(Task)
        .where(Task.order_id == order.id)
        .where(Task.step == Step.PACKING)
        .where(Task.status == TaskStatus.OPEN)
        .order_by(col(Task.id).desc())
    ).first()
    return None if task is None else packing_number(task)


def shipment_for(session: Session, order: SalesOrder, number: int, *, ahead: bool) -> Shipment:
    """The order's shipment `number`; with `ahead`, also the one its open packing task packs
    (created now, so its carrier and tracking can be recorded before it is packed)."""
    shipment = shipping_service.get(session=session, order_id=order.id or 0, number=number)
    if shipment is None and ahead and packing_now(session, order) == number:
        shipment = shipping_service.prepare(
            session=session,
            key=shipping_service.pack_key(order, number),
            order=order,
            number=number,
        )
    if shipment is None:
        raise ShipmentNotFoundError(f"order {order.number} has no shipment {number}")
    return shipment


async def update(
    state: AppState, *, order_number: str, number: int, details: ShipmentDetails, actor: Actor
) -> ShipmentPublic:
    """Record carrier, tracking, packages, weight: on a shipment, or ahead of its packing."""
    settings = state.settings

    def work(session: Session) -> ShipmentPublic:
        order = order_read.load(session, order_number)
        shipment = shipment_for(session, order, number, ahead=True)
        shipping_service.update_details(
            session=session,
            order=order,
            shipment=shipment,
            details=details,
            templates=settings.carrier_tracking_urls,
            app_url=settings.public_url,
            actor=actor,
        )
        return shipping_service.to_public(session=session, shipment=shipment)

    return await in_session(state, work)


def packing_number(task: Task) -> int:
    """The shipment a packing task packs: `…:packing:task` 1, `…:packing:task:s<n>` n."""
    _, _, suffix = task.key.rpartition(":task")
    return int(suffix.removeprefix(":s")) if suffix.startswith(":s") else 1


async def record_on_packing_task(
    state: AppState, *, task_id: int, details: ShipmentDetails, actor: Actor
) -> ShipmentPublic | None:
    """The carrier and tracking given on a packing task's form, for the shipment it packs
    (None: the task is no open packing task; the completion says why)."""

    def work(session: Session) -> tuple[str, int] | None:
        task = session.get(Task, task_id)
        if task is None or task.step != Step.PACKING or task.status != TaskStatus.OPEN:
            return None
        if task.order_number is None:
            return None
        return task.order_number, packing_number(task)

    found = await in_session(state, work, read_only=True)
    if found is None:
        return None
    order_number, number = found
    return await update(
        state, order_number=order_number, number=number, details=details, actor=actor
    )


async def delivered(
    state: AppState,
    *,
    order_number: str,
    number: int,
    proof: DeliveryProof,
    actor: Actor,
    allowed: Callable[[SalesOrder], None] | None = None,
) -> ShipmentPublic:
    """Mark the shipment delivered (idempotent), then wake the order's workflow. `allowed`
    may refuse first (the customer center checks the order is theirs)."""

    def work(session: Session) -> ShipmentPublic:
        order = order_read.load(session, order_number)
        if allowed is not None:
            allowed(order)
        shipment = shipment_for(session, order, number, ahead=False)
        shipping_service.mark_delivered(
            session=session,
            order=order,
            shipment=shipment,
            proof=proof,
            actor=actor,
            app_url=state.settings.public_url,
        )
        return shipping_service.to_public(session=session, shipment=shipment)

    public = await in_session(state, work)
    await _tell(state, order_number, ShipmentDelivered(number, public.status))
    return public


async def failed(
    state: AppState, *, order_number: str, number: int, reason: str, actor: Actor
) -> ShipmentPublic:
    """Mark the shipment failed; the order's workflow gives the order desk a task for it."""

    def work(session: Session) -> ShipmentPublic:
        order = order_read.load(session, order_number)
        shipment = shipment_for(session, order, number, ahead=False)
        shipping_service.mark_failed(
            session=session,
            order=order,
            shipment=shipment,
            reason=reason,
            actor=actor,
            app_url=state.settings.public_url,
        )
        return shipping_service.to_public(session=session, shipment=shipment)

    public = await in_session(state, work)
    await _tell(state, order_number, ShipmentDelivered(number, ShipmentStatus.FAILED))
    return public


async def carrier_event(
    state: AppState, *, tracking: str, event: str, proof: DeliveryProof, actor: Actor
) -> ShipmentPublic | None:
    """A carrier's delivered/failed event for a tracking number (None: no such shipment)."""

    def find(session: Session) -> tuple[str, int] | None:
        shipment = shipping_service.by_tracking(session=session, tracking=tracking)
        return None if shipment is None else (shipment.order_number, shipment.number)

    found = await in_session(state, find, read_only=True)
    if found is None:
        return None
    order_number, number = found
    if event == ShipmentStatus.DELIVERED:
        return await delivered(
            state, order_number=order_number, number=number, proof=proof, actor=actor
        )
    return await failed(
        state,
        order_number=order_number,
        number=number,
        reason=proof.note or "the carrier reported a failed delivery",
        actor=actor,
    )


async def _tell(state: AppState, order_number: str, event: ShipmentDelivered) -> None:
    try:
        handle = await order_flows.workflow_handle(state, order_number)
        await handle.signal(SalesOrderNames.SHIPMENT_DELIVERED, event)
    except (RPCError, RuntimeError):
        # Recorded; the workflow rechecks its shipments on a timer.
        log.warning("could not tell %s about shipment %s", order_number, event.shipment)
