"""The drop-ship supplier's page behind the signed link of a purchase order's mail: the
purchase order's lines and a form (carrier, tracking, shipped date) that confirms the shipment
through the same flow as the staff API, audited with the supplier as actor. No account: the
link's token (purchasing.links) is the supplier's proof, the anonymous session's CSRF token
guards the form. A forged or expired token gets the 403 page; a confirmed purchase order says
so and changes nothing."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import StateDep
from conveyor.audit.models import ActorKind, Source
from conveyor.audit.service import Actor
from conveyor.core.models import utcnow
from conveyor.core.state import in_session
from conveyor.customer.models import Customer
from conveyor.order.models import SalesOrder
from conveyor.pages.auth import redirect
from conveyor.pages.web import CsrfChecked, WebSessionDep, page_router, render
from conveyor.purchasing import flows as purchasing_flows
from conveyor.purchasing import links
from conveyor.purchasing import service as purchasing_service
from conveyor.purchasing.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    SupplierShipment,
)

router = page_router()
LINK_REFUSED = (
    "This link is not valid or has expired. Please reply to the purchase order's mail and we "
    "will send you a new one."
)


@dataclass
class View:
    purchase: PurchaseOrder
    lines: list[PurchaseOrderLine]
    ship_to: str


def _view(session: Session, number: str) -> View | None:
    purchase = purchasing_service.get_by_number(session=session, number=number)
    if purchase is None:
        return None
    order = session.get(SalesOrder, purchase.order_id) if purchase.order_id else None
    customer = session.get(Customer, order.customer_id) if order else None
    ship_to = f"{customer.name}, {customer.country}" if customer else ""
    if order is not None and order.ship_to_line1:
        ship_to = ", ".join(
            part
            for part in (
                order.ship_to_name,
                order.ship_to_line1,
                order.ship_to_line2,
                f"{order.ship_to_postcode or ''} {order.ship_to_city or ''}".strip(),
                order.ship_to_country,
            )
            if part
        )
    lines = purchasing_service.lines(session=session, purchase_order_id=purchase.id or 0)
    return View(purchase, lines, ship_to)


def _refused(request: Request) -> Response:
    return render(request, "error.html", {"status": 403, "detail": LINK_REFUSED}, status_code=403)


def _page(
    request: Request,
    view: View,
    token: str,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    today = utcnow().date().isoformat()
    context: dict[str, Any] = {
        "purchase": view.purchase,
        "lines": view.lines,
        "ship_to": view.ship_to,
        "token": token,
        "action": links.PATH.format(number=view.purchase.number),
        "today": today,
        "form": form or {"carrier": "", "tracking": "", "shipped_on": today},
        "error": error,
    }
    return render(request, "supplier_purchase_order.html", context, status_code=status_code)


async def _load(state: Any, number: str) -> View | None:
    return await in_session(state, lambda s: _view(s, number), read_only=True)


def _shipped_at(shipped_on: str) -> datetime | str:
    """The shipped date as a time (today: now; an earlier day: its noon UTC), or the error."""
    try:
        day = date.fromisoformat(shipped_on)
    except ValueError:
        return "Give the date the goods were shipped."
    today = utcnow().date()
    if day > today:
        return "The shipped date cannot be in the future."
    return utcnow() if day == today else datetime.combine(day, time(12), tzinfo=UTC)


@router.get(links.PATH, include_in_schema=False)
async def purchase_order_page(
    number: str, request: Request, state: StateDep, token: str = ""
) -> Response:
    """The purchase order as its supplier sees it, with the confirmation form while open."""
    if not links.valid(state.settings, number, token):
        return _refused(request)
    view = await _load(state, number)
    if view is None:
        return _refused(request)
    return _page(request, view, token)


@router.post(links.PATH, include_in_schema=False, dependencies=[CsrfChecked])
async def confirm_shipment(
    number: str,
    request: Request,
    state: StateDep,
    web: WebSessionDep,
    token: Annotated[str, Form(max_length=200)] = "",
    carrier: Annotated[str, Form(max_length=64)] = "",
    tracking: Annotated[str, Form(max_length=200)] = "",
    shipped_on: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Confirm the shipment once (a second time: "already confirmed", nothing changes)."""
    if not links.valid(state.settings, number, token):
        return _refused(request)
    view = await _load(state, number)
    if view is None:
        return _refused(request)
    if view.purchase.status != PurchaseOrderStatus.OPEN:
        return _page(request, view, token, status_code=409)
    form = {"carrier": carrier.strip(), "tracking": tracking.strip(), "shipped_on": shipped_on}
    shipped_at = _shipped_at(shipped_on)
    error = None
    if not form["carrier"] or not form["tracking"]:
        error = "Give the carrier and the tracking number."
    elif isinstance(shipped_at, str):
        error = shipped_at
    if error is not None or isinstance(shipped_at, str):
        return _page(request, view, token, form=form, error=error, status_code=422)
    actor = Actor(name=view.purchase.supplier_email, kind=ActorKind.SUPPLIER, source=Source.PAGE)
    shipment = SupplierShipment(
        tracking=form["tracking"], carrier=form["carrier"], shipped_at=shipped_at
    )
    try:
        await purchasing_flows.confirm_shipped(state, number=number, shipment=shipment, actor=actor)
    except purchasing_service.PurchaseOrderError as exc:
        refreshed = await _load(state, number)
        return _page(request, refreshed or view, token, error=str(exc), status_code=409)
    web.flash = "Thank you: the shipment is confirmed and our customer is told its tracking."
    return redirect(request, f"{request.url.path}?token={token}", web)
