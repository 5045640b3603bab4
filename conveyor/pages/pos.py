"""The counter (POS) page: the seller's cash drawer, a sale scanned or searched by SKU at the
customer's prices, paid in cash or by card; the sale's page with its receipt and counter returns.

Every button posts the whole form (no JavaScript needed): the lines ride along as `sku-N` and
`qty-N` fields, the scan field adds a line (Enter submits it), and Take payment places the sale
through the counter flow, which records it paid and starts the order's workflow.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Annotated
from uuid import uuid4

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session
from starlette.datastructures import FormData

from api.deps import Principal, ReadSessionDep, StateDep
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.core.db import session_scope
from conveyor.core.errors import Conflict, DomainError, Invalid
from conveyor.core.idempotency import scoped_key
from conveyor.core.patch import field_errors
from conveyor.customer import service as customer_service
from conveyor.customer.models import Customer
from conveyor.inventory import service as inventory_service
from conveyor.order import service as order_service
from conveyor.pages.auth import redirect
from conveyor.pages.documents import pdf_response
from conveyor.pages.web import (
    CsrfChecked,
    WebSessionDep,
    page_refusal,
    page_router,
    render,
    require_page,
)
from conveyor.pos import drawer as drawer_service
from conveyor.pos import flows as pos_flows
from conveyor.pos import receipt
from conveyor.pos import service as pos_service
from conveyor.pos.models import (
    CounterReturn,
    DrawerClose,
    DrawerOpen,
    SaleCreate,
    Tender,
)
from conveyor.pricing.engine import PricedOrder
from conveyor.returns import service as return_service
from conveyor.returns.models import ReturnStatus
from conveyor.shop import catalogue

router = page_router()
Seller = Annotated[Principal, require_page(Permission.POS_SELL)]
Refunder = Annotated[Principal, require_page(Permission.POS_REFUND)]
DrawerViewer = Annotated[Principal, require_page(Permission.POS_DRAWERS)]
MAX_LINES = 100
FOUND = 8


@dataclass
class SaleForm:
    """The counter form as typed: lines (SKU, quantity), customer, tender, cash handed over."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    customer: str = ""  # a customer number or e-mail; blank: the walk-in customer
    tender: str = Tender.CASH
    tendered: str = ""
    key: str = field(default_factory=lambda: uuid4().hex)
    scan: str = ""


def _text(form: FormData, name: str, limit: int) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def read_form(form: FormData) -> SaleForm:
    """The posted form: `sku-N`/`qty-N` lines (a ticked `remove-N` drops one), the scanned
    or added SKU appended (the same SKU again adds one to its line)."""
    sale = SaleForm()
    for index in range(MAX_LINES):
        if f"sku-{index}" not in form:
            break
        sku = _text(form, f"sku-{index}", 64)
        if sku and not form.get(f"remove-{index}"):
            sale.lines.append((sku, _text(form, f"qty-{index}", 6) or "1"))
    sale.customer = _text(form, "customer", 320)
    sale.tender = Tender.CARD if form.get("tender") == Tender.CARD else Tender.CASH
    sale.tendered = _text(form, "tendered", 20)
    sale.key = _text(form, "key", 64) or uuid4().hex
    sale.scan = _text(form, "scan", 100)
    return sale


def _add(sale: SaleForm, sku: str) -> None:
    for index, (line_sku, qty) in enumerate(sale.lines):
        if line_sku == sku:
            sale.lines[index] = (sku, str(int(qty) + 1) if qty.isdigit() else qty)
            return
    sale.lines.append((sku, "1"))


def _customer(session: Session, principal: Principal, text: str) -> Customer:
    """The customer typed (number or e-mail), else the walk-in customer; Invalid if unknown."""
    if not text:
        return pos_service.walk_in_customer(session=session, actor=principal.actor(Source.PAGE))
    found = (
        customer_service.get(session=session, customer_id=int(text))
        if text.isdigit() and int(text) < 2**31
        else customer_service.get_by_email(session=session, email=text.lower())
    )
    if found is None or found.retired_at is not None:
        raise Invalid(f"no customer {text}: leave it blank for a walk-in customer")
    return found


@dataclass
class Priced:
    """The form checked and priced for its customer (or the messages why not)."""

    customer: Customer | None
    priced: PricedOrder | None
    found: list[catalogue.Offer]
    error: str = ""
    names: dict[str, str] = field(default_factory=dict)


def _request(sale: SaleForm, customer: Customer) -> SaleCreate:
    tendered = None
    if sale.tender == Tender.CASH and sale.tendered:
        try:
            tendered = Decimal(sale.tendered)
        except InvalidOperation as exc:
            raise Invalid(f"cash handed over: {sale.tendered!r} is no amount") from exc
    return SaleCreate.model_validate(
        {
            "lines": [{"sku": sku, "qty": qty} for sku, qty in sale.lines],
            "customer_id": customer.id,
            "tender": sale.tender,
            "tendered": tendered,
        }
    )


def price(
    session: Session, principal: Principal, sale: SaleForm
) -> tuple[Priced, SaleCreate | None]:
    """Resolve the scanned text (an exact SKU is added; else the products it matches are
    listed), then price the lines at the customer's prices as the order entry does."""
    result = Priced(customer=None, priced=None, found=[])
    try:
        customer = result.customer = _customer(session, principal, sale.customer)
    except DomainError as exc:
        result.error = exc.message
        return result, None
    if sale.scan:
        if inventory_service.get_by_sku(session=session, sku=sale.scan) is not None:
            _add(sale, sale.scan)
            sale.scan = ""
        else:
            result.found, _ = catalogue.search(
                session=session, customer=customer, q=sale.scan, limit=FOUND, offset=0
            )
            if not result.found:
                result.error = f"no product matches “{sale.scan}”"
    products = inventory_service.get_many(session=session, skus=[sku for sku, _ in sale.lines])
    result.names = {sku: product.name for sku, product in products.items()}
    if not sale.lines:
        return result, None
    try:
        request = _request(sale, customer)
        order_in = pos_service.order_request(request, customer.id or 0)
        result.priced = order_service.preview(session=session, order_in=order_in).priced
    except ValidationError as exc:
        result.error = result.error or "; ".join(field_errors(exc).values())
        return result, None
    except DomainError as exc:
        result.error = result.error or exc.message
        return result, None
    return result, request


def _page(
    request: Request,
    session: Session,
    principal: Principal,
    sale: SaleForm,
    result: Priced | None = None,
    *,
    status_code: int = 200,
) -> Response:
    drawer = None
    totals = (Decimal("0.00"), Decimal("0.00"))
    if principal.employee_id is not None:
        drawer = drawer_service.open_of(session=session, employee_id=principal.employee_id)
        if drawer is not None:
            totals = drawer_service.totals(session=session, drawer_id=drawer.id or 0)
    context = {
        "page": "pos",
        "drawer": drawer,
        "cash_sales": totals[0],
        "cash_refunds": totals[1],
        "sale": sale,
        "result": result or Priced(customer=None, priced=None, found=[]),
        "may_refund": principal.can(Permission.POS_REFUND),
    }
    return render(request, "pos.html", context, principal=principal, status_code=status_code)


@router.get("/pos", include_in_schema=False)
def counter(request: Request, session: ReadSessionDep, principal: Seller) -> Response:
    """The counter: the caller's cash drawer and an empty sale."""
    return _page(request, session, principal, SaleForm())


@router.post("/pos", include_in_schema=False, dependencies=[CsrfChecked])
async def counter_sale(
    request: Request, state: StateDep, principal: Seller, web: WebSessionDep
) -> Response:
    """Add the scanned SKU (or one found), price the lines, or take the payment (`action`)."""
    form = await request.form()
    sale = read_form(form)
    added = _text(form, "add", 64)
    if added:  # a product found for the scanned text: that search is done
        _add(sale, added)
        sale.scan = ""
    with session_scope(state.engine) as session:  # the walk-in customer may be created
        result, sale_in = price(session, principal, sale)
        if form.get("action") != "pay" or sale_in is None or result.error:
            code = 422 if form.get("action") == "pay" else 200
            if form.get("action") == "pay" and not result.error:
                result.error = "scan or add at least one product"
            return _page(request, session, principal, sale, result, status_code=code)
    try:
        order, _ = await pos_flows.sell(
            state,
            sale_in=sale_in,
            employee_id=principal.employee_id,
            actor=principal.actor(Source.PAGE),
            request_key=scoped_key("pos-sale", principal.name, sale.key),
        )
    except DomainError as exc:
        result.error = exc.message
        with session_scope(state.read_engine) as session:
            return _page(request, session, principal, sale, result, status_code=exc.status)
    web.flash = f"Sale {order.number}: paid {order.total} {order.currency}."
    return redirect(request, f"/pos/sales/{order.number}", web)


def _amount(form: FormData, name: str) -> Decimal:
    text = _text(form, name, 20)
    try:
        return Decimal(text or "0")
    except InvalidOperation as exc:
        raise Invalid(f"{text!r} is no amount") from exc


async def _at_the_drawer(
    request: Request,
    state: StateDep,
    principal: Principal,
    web: WebSessionDep,
    act: Callable[[Session, FormData, int], str],
) -> Response:
    """Do `act` on the caller's own drawer with the posted form, in one transaction; its
    answer is the flash on the counter. Bad input and refusals are shown on a page."""
    form = await request.form()
    try:
        if principal.employee_id is None:
            raise Conflict(
                "the admin token has no cash drawer: sign in as the employee at the till"
            )
        with session_scope(state.engine) as session:
            web.flash = act(session, form, principal.employee_id)
    except ValidationError as exc:
        return page_refusal(
            request, Invalid("; ".join(field_errors(exc).values())), web=web, back="/pos"
        )
    except DomainError as exc:
        return page_refusal(request, exc, web=web, back="/pos", principal=principal)
    return redirect(request, "/pos", web)


@router.post("/pos/drawer/open", include_in_schema=False, dependencies=[CsrfChecked])
async def open_drawer(
    request: Request, state: StateDep, principal: Seller, web: WebSessionDep
) -> Response:
    """Open the caller's cash drawer with the float counted into it."""

    def act(session: Session, form: FormData, employee_id: int) -> str:
        drawer = drawer_service.open_drawer(
            session=session,
            employee_id=employee_id,
            drawer_in=DrawerOpen(opening_float=_amount(form, "opening_float")),
            actor=principal.actor(Source.PAGE),
        )
        return f"Cash drawer open with a float of {drawer.opening_float} {drawer.currency}."

    return await _at_the_drawer(request, state, principal, web, act)


@router.post("/pos/drawer/close", include_in_schema=False, dependencies=[CsrfChecked])
async def close_drawer(
    request: Request, state: StateDep, principal: Seller, web: WebSessionDep
) -> Response:
    """Close the caller's cash drawer with the cash counted: the difference is recorded."""

    def act(session: Session, form: FormData, employee_id: int) -> str:
        if not _text(form, "counted", 20):
            raise Invalid("enter the cash counted in the drawer")
        close_in = DrawerClose(counted=_amount(form, "counted"), note=_text(form, "note", 500))
        drawer = drawer_service.close_drawer(
            session=session,
            employee_id=employee_id,
            close_in=close_in,
            actor=principal.actor(Source.PAGE),
        )
        return (
            f"Cash drawer closed: expected {drawer.expected}, counted {drawer.counted}, "
            f"difference {drawer.difference} {drawer.currency}."
        )

    return await _at_the_drawer(request, state, principal, web, act)


@router.get("/pos/find", include_in_schema=False)
def find_sale(
    request: Request,
    principal: Seller,
    web: WebSessionDep,
    number: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    """Open a counter sale by its order number (to reprint its receipt or take goods back)."""
    return redirect(request, f"/pos/sales/{number.strip()}" if number.strip() else "/pos", web)


@router.get("/pos/sales/{number}", include_in_schema=False)
def sale_page(
    number: str, request: Request, session: ReadSessionDep, principal: Seller
) -> Response:
    """A counter sale: its order's status, how it was paid, the receipt, returns taken."""
    try:
        order, sale = pos_service.counter_order(session=session, order_number=number)
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)
    returns, _ = return_service.list_returns(session=session, order_number=number)
    context = {
        "page": "pos",
        "order": order,
        "sale": sale,
        "lines": order_service.lines(session=session, order_id=order.id or 0),
        "returns": returns,
        "may_refund": principal.can(Permission.POS_REFUND),
        "key": uuid4().hex,
    }
    return render(request, "pos_sale.html", context, principal=principal)


@router.get("/pos/sales/{number}/receipt.pdf", include_in_schema=False)
def receipt_pdf(
    number: str, request: Request, session: ReadSessionDep, principal: Seller
) -> Response:
    """The sale's receipt for an 80 mm receipt printer."""
    try:
        order, sale = pos_service.counter_order(session=session, order_number=number)
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)
    response = pdf_response(
        receipt.render(session=session, order=order, sale=sale), f"receipt-{number}.pdf"
    )
    return response


@router.post("/pos/sales/{number}/return", include_in_schema=False, dependencies=[CsrfChecked])
async def counter_return(
    number: str, request: Request, state: StateDep, principal: Refunder, web: WebSessionDep
) -> Response:
    """Goods of the sale brought back: restocked, credited, and a cash refund paid out of the
    caller's drawer."""
    form = await request.form()
    back = f"/pos/sales/{number}"
    try:
        qty = _text(form, "qty", 6) or "1"
        return_in = CounterReturn.model_validate(
            {
                "lines": [{"sku": _text(form, "sku", 64), "qty": qty}],
                "reason": _text(form, "reason", 500),
            }
        )
        done = await pos_flows.take_back(
            state,
            order_number=number,
            return_in=return_in,
            employee_id=principal.employee_id,
            actor=principal.actor(Source.PAGE),
            idempotency_key=_text(form, "key", 64) or None,
        )
    except ValidationError as exc:
        message = "; ".join(field_errors(exc).values())
        return page_refusal(request, Invalid(message), web=web, back=back)
    except (return_service.ReturnConflictError, return_service.ReturnError) as exc:
        return page_refusal(request, Conflict(str(exc)), web=web, back=back)
    except DomainError as exc:
        return page_refusal(request, exc, web=web, back=back, principal=principal)
    if done.status == ReturnStatus.RECEIVED:
        web.flash = (
            f"Return {done.return_number}: credited {done.credit_total}, "
            f"paid out {done.paid_out} from the drawer."
        )
    else:
        web.flash = f"Return {done.return_number} is {done.status}: the refund waits."
    return redirect(request, back, web)


@router.get("/pos/drawers", include_in_schema=False)
def drawers_page(
    request: Request,
    session: ReadSessionDep,
    principal: DrawerViewer,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """Everybody's cash drawer sessions, newest first: float, expected, counted, difference."""
    rows, count = drawer_service.list_drawers(session=session, limit=50, offset=(page - 1) * 50)
    context = {"page": "drawers", "drawers": rows, "count": count, "page_number": page}
    return render(request, "pos_drawers.html", context, principal=principal)
