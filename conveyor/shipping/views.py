"""Shipment endpoints under /api/orders/{number}/shipments, and the carriers' signed delivery
events (POST /webhooks/carrier)."""

import hashlib
import hmac
import time
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from pydantic import ValidationError
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep, StateDep, require
from conveyor.audit.models import Source
from conveyor.audit.service import Actor
from conveyor.auth.permissions import Permission
from conveyor.core.errors import NotFound
from conveyor.order import read as order_read
from conveyor.order import service as order_service
from conveyor.order.models import SalesOrder
from conveyor.shipping import flows as shipping_flows
from conveyor.shipping import service as shipping_service
from conveyor.shipping.documents import delivery_note_pdf
from conveyor.shipping.models import (
    CarrierEvent,
    DeliveryProof,
    ShipmentDetails,
    ShipmentFailure,
    ShipmentPublic,
)

router = APIRouter()  # mounted under /orders
carrier_router = APIRouter()  # mounted under /webhooks: the signature is the authentication
ShipmentRecorder = Annotated[Principal, require(Permission.SHIPMENTS_RECORD)]
OrderViewer = Annotated[Principal, require(Permission.ORDERS_VIEW)]
SIGNATURE_HEADER = "X-Carrier-Signature"


def _visible(session: Session, principal: Principal, number: str) -> SalesOrder:
    """The order, 404 for one the caller may not see (a rep's other accounts)."""
    order = order_read.load(session, number)
    rep = principal.own_accounts_only()
    if rep is not None and order_service.account_rep_of(session, order.customer_id) != rep:
        raise NotFound(f"order {number} not found")
    return order


@router.get("/{number}/shipments", response_model=list[ShipmentPublic])
def list_shipments(
    number: str, session: ReadSessionDep, principal: OrderViewer
) -> list[ShipmentPublic]:
    """The order's shipments by number: lines, carrier, tracking, delivery and its proof."""
    order = _visible(session, principal, number)
    return [
        shipping_service.to_public(session=session, shipment=shipment)
        for shipment in shipping_service.for_order(session=session, order_id=order.id or 0)
    ]


@router.patch("/{number}/shipments/{shipment}", response_model=ShipmentPublic)
async def update_shipment(
    number: str,
    shipment: int,
    details: ShipmentDetails,
    state: StateDep,
    principal: ShipmentRecorder,
) -> ShipmentPublic:
    """Record carrier, service, tracking (the URL from the carrier's template unless given),
    packages and weight. The shipment whose packing task is open may be given its details
    before it is packed. 404: no such shipment; 409: delivered already."""
    return await shipping_flows.update(
        state,
        order_number=number,
        number=shipment,
        details=details,
        actor=principal.actor(Source.API),
    )


@router.post("/{number}/shipments/{shipment}/delivered", response_model=ShipmentPublic)
async def shipment_delivered(
    number: str, shipment: int, proof: DeliveryProof, state: StateDep, principal: ShipmentRecorder
) -> ShipmentPublic:
    """The shipment was delivered (who signed, a note); the customer is told, and the order
    completes once every shipment is delivered and it is paid. 409: not shipped yet."""
    return await shipping_flows.delivered(
        state, order_number=number, number=shipment, proof=proof, actor=principal.actor(Source.API)
    )


@router.post("/{number}/shipments/{shipment}/failed", response_model=ShipmentPublic)
async def shipment_failed(
    number: str,
    shipment: int,
    failure: ShipmentFailure,
    state: StateDep,
    principal: ShipmentRecorder,
) -> ShipmentPublic:
    """The shipment failed (returned to sender, lost): the order desk gets a task for it."""
    return await shipping_flows.failed(
        state,
        order_number=number,
        number=shipment,
        reason=failure.reason,
        actor=principal.actor(Source.API),
    )


@router.get(
    "/{number}/shipments/{shipment}/delivery-note.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "the delivery note"}},
)
def delivery_note(
    number: str, shipment: int, session: ReadSessionDep, principal: OrderViewer
) -> Response:
    """The shipment's delivery note: what is in it, to whom, carrier and tracking."""
    order = _visible(session, principal, number)
    found = shipping_service.get(session=session, order_id=order.id or 0, number=shipment)
    if found is None:
        raise shipping_flows.ShipmentNotFoundError(f"order {number} has no shipment {shipment}")
    return Response(
        delivery_note_pdf(session, order, found),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{number}-{shipment}.pdf"'},
    )


def verify_carrier(body: bytes, header: str | None, secret: str, tolerance: int) -> None:
    """`t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">` under `secret`; ValueError if not."""
    if not header:
        raise ValueError(f"missing {SIGNATURE_HEADER} header")
    parts = dict(item.strip().partition("=")[::2] for item in header.split(","))
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError as exc:
        raise ValueError(f"{SIGNATURE_HEADER} has no timestamp") from exc
    if abs(time.time() - timestamp) > tolerance:
        raise ValueError(f"{SIGNATURE_HEADER} timestamp is outside the tolerance")
    signed = str(timestamp).encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), parts.get("v1", "").encode()):
        raise ValueError(f"{SIGNATURE_HEADER} does not match")


def sign_carrier(body: bytes, secret: str, timestamp: int) -> str:
    """The header value a carrier sends (for tests and integrators)."""
    signed = str(timestamp).encode() + b"." + body
    return f"t={timestamp},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"


@carrier_router.post("/carrier", response_model=ShipmentPublic)
async def carrier_webhook(
    request: Request,
    state: StateDep,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
) -> ShipmentPublic:
    """A carrier's delivery event for a tracking number: `{"tracking": ..., "event":
    "delivered" | "failed", "signed_by": ..., "note": ...}`, signed with
    CONVEYOR_CARRIER_WEBHOOK_SECRET. 401: unsigned or forged; 404: unknown tracking number."""
    body = await request.body()
    secret = state.settings.carrier_webhook_secret
    try:
        if secret is None:
            raise ValueError("no carrier secret is configured")
        verify_carrier(
            body, signature, secret.get_secret_value(), state.settings.carrier_tolerance_seconds
        )
    except ValueError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from exc
    try:
        event = CarrierEvent.model_validate_json(body)
    except ValidationError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    carrier = event.carrier or "carrier"
    public = await shipping_flows.carrier_event(
        state,
        tracking=event.tracking,
        event=event.event,
        proof=DeliveryProof(
            signed_by=event.signed_by, note=event.note, delivered_at=event.delivered_at
        ),
        actor=Actor.integration(f"carrier:{carrier}"),
    )
    if public is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no shipment has tracking {event.tracking}")
    return public
