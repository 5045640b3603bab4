"""Documents and mail pages: pick lists and packing slips as PDF, and the outbox."""

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import Path, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep
from conveyor.auth.permissions import Permission
from conveyor.core.errors import DomainError, NotFound
from conveyor.inventory import documents
from conveyor.inventory import pdf as warehouse_pdf
from conveyor.inventory.documents import ShipmentDocument
from conveyor.notification import delivery
from conveyor.notification import service as outbox_service
from conveyor.notification.models import OutboxMessage, OutboxStatus
from conveyor.order import read as order_read
from conveyor.pages import listing
from conveyor.pages.listing import Filter, Listing
from conveyor.pages.web import page_refusal, page_router, render, require_page

router = page_router()
# A mail's HTML body is shown in a sandboxed frame (no scripts, no same origin, no forms) and
# served under a policy that loads nothing from anywhere: its inline styles apply, nothing runs.
MAIL_BODY_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; frame-ancestors 'self'"
)
Shipment = Annotated[int | None, Query(ge=1, le=10_000)]
MessageId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def pdf_response(content: bytes, filename: str) -> Response:
    """A PDF shown in the browser (and saved under `filename`)."""
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


def _shipment_pdf(
    request: Request,
    session: Session,
    principal: Principal,
    number: str,
    shipment: int | None,
    render_pdf: Callable[[ShipmentDocument], bytes],
    name: str,
) -> Response:
    try:
        order = order_read.load(session, number)
        doc = documents.shipment_document(session=session, order=order, shipment=shipment)
        if doc is None:
            raise NotFound(f"order {number} has no pick list yet")
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)
    return pdf_response(render_pdf(doc), f"{name}-{number}-{doc.shipment}.pdf")


@router.get("/orders/{number}/pick-list.pdf", include_in_schema=False)
def pick_list_pdf(
    number: str,
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.PICKING_VIEW)],
    shipment: Shipment = None,
) -> Response:
    """The pick list of a shipment (the latest unless `?shipment=`): bins, quantities, staging."""
    return _shipment_pdf(
        request, session, principal, number, shipment, warehouse_pdf.pick_list, "pick-list"
    )


@router.get("/orders/{number}/packing-slip.pdf", include_in_schema=False)
def packing_slip_pdf(
    number: str,
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.PICKING_VIEW)],
    shipment: Shipment = None,
) -> Response:
    """The packing slip of a shipment (the latest unless `?shipment=`): ship-to and contents."""
    return _shipment_pdf(
        request, session, principal, number, shipment, warehouse_pdf.packing_slip, "packing-slip"
    )


# ---- the outbox -----------------------------------------------------------------------------

OUTBOX = Listing(
    path="/outbox",
    filters=(
        Filter("status", "Status", "choice", tuple(OutboxStatus)),
        Filter("recipient", "Recipient", placeholder="e-mail or part of it"),
        Filter("order", "Order", placeholder="order number"),
        Filter("kind", "Kind", placeholder="e.g. invoice"),
    ),
    sorts={"created": OutboxMessage.created_at, "id": OutboxMessage.id},
    default_sort="id",
    tiebreak=OutboxMessage.id,
)


def _outbox(request: Request) -> tuple[listing.ListView, Any]:
    view = listing.read(OUTBOX, request)
    query = outbox_service.search(
        order_number=view.get("order"),
        recipient=view.get("recipient"),
        status=view.get("status"),
        kind=view.get("kind"),
    )
    return view, query


@router.get("/outbox", include_in_schema=False)
def outbox(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.MAIL_VIEW)],
) -> Response:
    """Every stored e-mail, newest first, filtered by status, recipient, order and kind."""
    view, query = _outbox(request)
    items = listing.rows(session, view, query)
    context = listing.context(view, "outbox", items)
    return render(request, "outbox.html", context, principal=principal)


@router.get("/outbox.csv", include_in_schema=False)
def outbox_csv(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.MAIL_VIEW)],
) -> Response:
    """The same filtered messages as CSV (without their bodies)."""
    view, query = _outbox(request)
    header = ("id", "kind", "order", "recipients", "subject", "status", "attempts", "created")

    def row(message: OutboxMessage) -> Sequence[object]:
        created = message.created_at.isoformat(timespec="seconds")
        return (
            message.id,
            message.kind,
            message.order_number or "",
            message.recipients,
            message.subject,
            message.status,
            message.attempts,
            created,
        )

    return listing.export(session, view, query, header=header, row=row, filename="outbox")


def _message(session: Session, message_id: int) -> OutboxMessage:
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound(f"message {message_id} not found")
    return message


@router.get("/outbox/{message_id}", include_in_schema=False)
def outbox_message(
    message_id: MessageId,
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.MAIL_VIEW)],
) -> Response:
    """One message: headers, status, its text body, its HTML body (sandboxed) and attachment."""
    try:
        message = _message(session, message_id)
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)
    context = {"page": "outbox", "message": message}
    return render(request, "outbox_message.html", context, principal=principal)


@router.get("/outbox/{message_id}/body.html", include_in_schema=False)
def outbox_message_html(
    message_id: MessageId,
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.MAIL_VIEW)],
) -> Response:
    """The HTML body as the recipient's mail program gets it, under a policy that runs nothing."""
    try:
        message = _message(session, message_id)
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)
    return Response(
        message.body_html,
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": MAIL_BODY_CSP, "X-Frame-Options": "SAMEORIGIN"},
    )


@router.get("/outbox/{message_id}/attachment", include_in_schema=False)
def outbox_attachment(
    message_id: MessageId,
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.MAIL_VIEW)],
) -> Response:
    """The message's attachment as the mail carries it (rendered from the document it names)."""
    try:
        message = _message(session, message_id)
        document = delivery.attached_document(session=session, message=message)
        if document is None:
            raise NotFound(f"message {message_id} has no attachment")
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)
    name, content = document
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
