"""Shipment pages: staff record carrier and tracking, delivered or failed, on the order page;
the customer says "I received it"; the delivery note of a shipment as PDF."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Form, Path, Request
from fastapi.responses import Response

from api.deps import Principal, ReadSessionDep, StateDep
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.core.errors import DomainError, NotFound
from conveyor.order import read as order_read
from conveyor.order import service as order_service
from conveyor.order.models import SalesOrder
from conveyor.pages.auth import redirect
from conveyor.pages.documents import pdf_response
from conveyor.pages.web import (
    CsrfChecked,
    CustomerDep,
    WebSession,
    WebSessionDep,
    page_refusal,
    page_router,
    require_page,
)
from conveyor.shipping import flows as shipping_flows
from conveyor.shipping import service as shipping_service
from conveyor.shipping.documents import delivery_note_pdf
from conveyor.shipping.models import DeliveryProof, ShipmentDetails
from conveyor.shop.flows import customer_actor

router = page_router()
Number = Annotated[int, Path(ge=1, le=10_000)]
Recorder = Annotated[Principal, require_page(Permission.SHIPMENTS_RECORD)]


async def _recorded(
    request: Request,
    web: WebSession,
    number: str,
    action: Callable[[], Awaitable[object]],
    success: str,
) -> Response:
    """Run a staff shipment action; back to the order's shipments with its outcome (a refusal
    as the alert)."""
    try:
        await action()
    except DomainError as exc:
        web.alert = f"Not recorded: {exc.message}"
    else:
        web.flash = success
    return redirect(request, f"/orders/{number}#shipments", web)


@router.get("/orders/{number}/shipments/{shipment}/delivery-note.pdf", include_in_schema=False)
def delivery_note(
    number: str,
    shipment: Number,
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.ORDERS_VIEW)],
) -> Response:
    """The shipment's delivery note: its lines, the ship-to, carrier and tracking."""
    try:
        order = order_read.load(session, number)
        rep = principal.own_accounts_only()
        if rep is not None and order_service.account_rep_of(session, order.customer_id) != rep:
            raise NotFound(f"order {number} not found")
        found = shipping_service.get(session=session, order_id=order.id or 0, number=shipment)
        if found is None:
            raise NotFound(f"order {number} has no shipment {shipment}")
    except NotFound as exc:
        return page_refusal(request, exc, principal=principal)
    return pdf_response(delivery_note_pdf(session, order, found), f"{number}-{shipment}.pdf")


@router.post(
    "/orders/{number}/shipments/{shipment}", include_in_schema=False, dependencies=[CsrfChecked]
)
async def record_details(
    number: str,
    shipment: Number,
    request: Request,
    state: StateDep,
    principal: Recorder,
    web: WebSessionDep,
    carrier: Annotated[str, Form(max_length=64)] = "",
    service: Annotated[str, Form(max_length=64)] = "",
    tracking: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Carrier, service and tracking of a shipment (the empty fields unchanged)."""
    fields = (("carrier", carrier), ("service", service), ("tracking", tracking))
    given = {name: value.strip() for name, value in fields if value.strip()}
    return await _recorded(
        request,
        web,
        number,
        lambda: shipping_flows.update(
            state,
            order_number=number,
            number=shipment,
            details=ShipmentDetails.model_validate(given),
            actor=principal.actor(Source.PAGE),
        ),
        f"Shipment {shipment} updated.",
    )


@router.post(
    "/orders/{number}/shipments/{shipment}/delivered",
    include_in_schema=False,
    dependencies=[CsrfChecked],
)
async def record_delivered(
    number: str,
    shipment: Number,
    request: Request,
    state: StateDep,
    principal: Recorder,
    web: WebSessionDep,
    signed_by: Annotated[str, Form(max_length=200)] = "",
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Delivered, with who signed and a note (proof of delivery)."""
    proof = DeliveryProof(signed_by=signed_by.strip() or None, note=note.strip() or None)
    return await _recorded(
        request,
        web,
        number,
        lambda: shipping_flows.delivered(
            state,
            order_number=number,
            number=shipment,
            proof=proof,
            actor=principal.actor(Source.PAGE),
        ),
        f"Shipment {shipment} delivered.",
    )


@router.post(
    "/orders/{number}/shipments/{shipment}/failed",
    include_in_schema=False,
    dependencies=[CsrfChecked],
)
async def record_failed(
    number: str,
    shipment: Number,
    request: Request,
    state: StateDep,
    principal: Recorder,
    web: WebSessionDep,
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Failed (returned to sender, lost): the order desk gets a task for it."""
    if not reason.strip():
        web.alert = "Not recorded: say what happened to the shipment."
        return redirect(request, f"/orders/{number}#shipments", web)
    return await _recorded(
        request,
        web,
        number,
        lambda: shipping_flows.failed(
            state,
            order_number=number,
            number=shipment,
            reason=reason.strip(),
            actor=principal.actor(Source.PAGE),
        ),
        f"Shipment {shipment} marked failed; the order desk has a task for it.",
    )


@router.post(
    "/customer/orders/{number}/shipments/{shipment}/received",
    include_in_schema=False,
    dependencies=[CsrfChecked],
)
async def customer_received(
    number: str,
    shipment: Number,
    request: Request,
    state: StateDep,
    customer: CustomerDep,
    web: WebSessionDep,
) -> Response:
    """The customer's "I received it": that shipment is delivered, signed by the customer."""

    def theirs(order: SalesOrder) -> None:
        if order.customer_id != customer.id:
            raise NotFound(f"order {number} not found")  # someone else's looks like none

    try:
        await shipping_flows.delivered(
            state,
            order_number=number,
            number=shipment,
            proof=DeliveryProof(signed_by=customer.name, note="confirmed in the customer center"),
            actor=customer_actor(customer),
            allowed=theirs,
        )
    except NotFound as exc:
        return page_refusal(request, exc, customer=customer)
    except DomainError as exc:
        web.alert = f"Not recorded: {exc.message}"
    else:
        web.flash = "Thank you: we have noted that you received it."
    return redirect(request, f"/customer/orders/{number}", web)
