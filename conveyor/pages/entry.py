"""Order and quote entry for staff: pick the customer, add lines at the customer's prices with
stock per warehouse and the product's options, charges and delivery terms; preview, then place
the order, save it as an explicit quote, or revise an open quote. The quote as a PDF, for staff
and for the customer in the customer center.

Every button of the form posts the whole form (no JavaScript needed): Preview prices it through
the order service's preview (the pricing engine, writing nothing); Place order, Save as quote
and Save revision go through the order flows, which check it again, record and audit it.
"""

from dataclasses import dataclass, field
from typing import Annotated, Any
from uuid import uuid4

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session, col
from starlette.datastructures import FormData

from api.deps import Principal, ReadSessionDep, StateDep
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission, refusal
from conveyor.core.db import page as one_page
from conveyor.core.db import session_scope
from conveyor.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from conveyor.core.idempotency import scoped_key
from conveyor.core.patch import field_errors
from conveyor.customer import addresses as address_service
from conveyor.customer import read as customer_read
from conveyor.customer import service as customer_service
from conveyor.customer.models import AddressKind, Customer
from conveyor.inventory import service as inventory_service
from conveyor.inventory import warehouses as warehouse_service
from conveyor.inventory.models import Product, StockBalance
from conveyor.opportunity import service as opportunity_service
from conveyor.opportunity.models import OPEN_STAGES, Opportunity
from conveyor.order import flows as order_flows
from conveyor.order import pdf as quote_pdf
from conveyor.order import quotes
from conveyor.order import read as order_read
from conveyor.order import service as order_service
from conveyor.order.enums import OrderStatus
from conveyor.order.models import OrderCreate, QuoteRevision, SalesOrder
from conveyor.pages.auth import redirect
from conveyor.pages.documents import pdf_response
from conveyor.pages.web import (
    CsrfChecked,
    CustomerDep,
    WebSessionDep,
    page_refusal,
    page_router,
    render,
    require_page,
)
from conveyor.pricing.engine import PricedLine, PricedOrder
from conveyor.shop import catalogue

router = page_router()
OrderPlacer = Annotated[Principal, require_page(Permission.ORDERS_PLACE)]
QuoteReviser = Annotated[Principal, require_page(Permission.ORDERS_MODIFY)]
OrderViewer = Annotated[Principal, require_page(Permission.ORDERS_VIEW)]
MAX_LINES = 100
BLANK_LINES = 2
CHARGE_ROWS = 2
FOUND = 10  # products listed for a search, customers for a customer search
OTHER_ADDRESS = "other"
SHIP_TO_FIELDS = ("name", "line1", "line2", "postcode", "city", "region", "country")
# The form's text fields and how long each may be (one more is kept, so validation refuses it).
LIMITS = {"sku": 64, "qty": 10, "description": 200, "amount": 20, "find": 100, "key": 64}
LIMITS |= {"customer_po": 64, "date": 10, "warehouse": 16, "address": 12, "ship_to": 200}
LIMITS |= {"opportunity": 64}


@dataclass
class LineForm:
    """One line as typed: SKU (or a name to look up), quantity, the options ticked, and
    whether the supplier is asked to ship it (a drop-ship allowable product)."""

    sku: str = ""
    qty: str = "1"
    options: list[str] = field(default_factory=list)
    drop_ship: bool = False


@dataclass
class EntryForm:
    """The entry form's text, kept as typed so a refused form comes back as it was."""

    customer_id: int
    lines: list[LineForm] = field(default_factory=list)
    charges: list[tuple[str, str]] = field(default_factory=list)  # description, amount
    warehouse: str = ""
    address: str = ""  # a shipping address id, OTHER_ADDRESS, or "" (none)
    ship_to: dict[str, str] = field(default_factory=dict)
    customer_po: str = ""
    requested_delivery_date: str = ""
    allow_partial: bool = False
    quote_valid_until: str = ""
    opportunity: str = ""  # a quote for this deal (its number): its sibling quotes share it
    key: str = field(default_factory=lambda: uuid4().hex)
    find: str = ""


@dataclass(frozen=True)
class LineView:
    """A line as the form shows it: its product, stock per warehouse, options and price."""

    index: int
    form: LineForm
    product: Product | None
    stock: list[StockBalance]
    options: list[catalogue.Offer]  # the options offered (upselling), at the customer's prices
    priced: PricedLine | None
    option_prices: dict[str, PricedLine]


def _text(form: FormData, name: str, limit: str) -> str:
    value = form.get(name)
    return value.strip()[: LIMITS[limit] + 1] if isinstance(value, str) else ""


def read_entry(form: FormData, customer_id: int) -> EntryForm:
    """The posted form as an EntryForm: lines `sku-N`/`qty-N`/`options-N`, charges
    `charge-N`/`amount-N`, the `add` button's SKU appended as a new line."""
    entry = EntryForm(customer_id=customer_id)
    for index in range(MAX_LINES):
        if f"sku-{index}" not in form:
            break
        options = [
            o[: LIMITS["sku"]] for o in form.getlist(f"options-{index}") if isinstance(o, str)
        ]
        entry.lines.append(
            LineForm(
                sku=_text(form, f"sku-{index}", "sku"),
                qty=_text(form, f"qty-{index}", "qty"),
                options=options[:20],
                drop_ship=form.get(f"drop_ship-{index}") == "on",
            )
        )
    added = _text(form, "add", "sku")
    if added:
        entry.lines.append(LineForm(sku=added))
    for index in range(CHARGE_ROWS):
        description = _text(form, f"charge-{index}", "description")
        amount = _text(form, f"amount-{index}", "amount")
        if description or amount:
            entry.charges.append((description, amount))
    entry.warehouse = _text(form, "warehouse", "warehouse")
    entry.address = _text(form, "ship_to_address", "address")
    entry.ship_to = {name: _text(form, f"ship_to_{name}", "ship_to") for name in SHIP_TO_FIELDS}
    entry.customer_po = _text(form, "customer_po", "customer_po")
    entry.requested_delivery_date = _text(form, "requested_delivery_date", "date")
    entry.allow_partial = form.get("allow_partial") in ("on", "true")
    entry.quote_valid_until = _text(form, "quote_valid_until", "date")
    entry.opportunity = _text(form, "opportunity", "opportunity")
    entry.key = _text(form, "key", "key")[: LIMITS["key"]] or uuid4().hex
    entry.find = _text(form, "find", "find")[: LIMITS["find"]]
    return entry


def _resolve(session: Session, customer: Customer, line: LineForm) -> tuple[Product | None, str]:
    """The line's product: its SKU, else the one product on sale whose SKU or name contains the
    text; with the error to show when there is none (or several)."""
    product = inventory_service.get_by_sku(session=session, sku=line.sku)
    if product is not None:
        return product, ""
    found, count = catalogue.search(
        session=session, customer=customer, q=line.sku, limit=FOUND, offset=0
    )
    if count == 1:
        line.sku = found[0].product.sku
        return found[0].product, ""
    if count:
        names = ", ".join(offer.product.sku for offer in found[:5])
        return None, f"“{line.sku}” matches {count} products ({names}): enter the SKU"
    return None, f"unknown SKU: {line.sku}"


def _quantity(text: str) -> tuple[int, str]:
    try:
        qty = int(text)
    except ValueError:
        return 0, "the quantity must be a whole number"
    if not 1 <= qty <= 100_000:
        return 0, "the quantity must be between 1 and 100,000"
    return qty, ""


@dataclass
class Checked:
    """The form's lines checked: those to price, the product found for each line, and the
    messages by field (`line-N` for a line, `lines` and `charges` for those sections)."""

    lines: list[dict[str, Any]]
    products: dict[int, Product]
    errors: dict[str, str]


def check_lines(
    session: Session, customer: Customer, entry: EntryForm, *, may_charge: bool
) -> Checked:
    """The lines and charges checked one by one (blank rows dropped)."""
    checked = Checked(lines=[], products={}, errors={})
    entry.lines = [ln for ln in entry.lines if ln.sku or ln.options or ln.qty]
    for index, line in enumerate(entry.lines):
        line.qty = line.qty or "1"
        if not line.sku:
            checked.errors[f"line-{index}"] = "enter a SKU or a product name"
            continue
        product, problem = _resolve(session, customer, line)
        qty, bad_qty = _quantity(line.qty)
        if product is not None:
            checked.products[index] = product
            line.options = [o for o in line.options if o in product.options]
        if problem or bad_qty:
            checked.errors[f"line-{index}"] = problem or bad_qty
            continue
        options = [{"sku": sku} for sku in line.options]
        wanted = {"sku": line.sku, "qty": qty, "options": options}
        if line.drop_ship:
            wanted["drop_ship"] = True
        checked.lines.append(wanted)
    if not entry.lines:
        checked.errors["lines"] = "add at least one line"
    if entry.charges and not may_charge:
        checked.errors["charges"] = "special charges need the orders.terms permission"
    return checked


def _charges(entry: EntryForm) -> list[dict[str, str]]:
    return [
        {"kind": "special", "description": text, "amount": amount} for text, amount in entry.charges
    ]


def order_request(entry: EntryForm, lines: list[dict[str, Any]], *, quote: bool) -> OrderCreate:
    """The new order (or quote) as the order service takes it; ValidationError otherwise."""
    data: dict[str, Any] = {
        "customer_id": entry.customer_id,
        "lines": lines,
        "charges": _charges(entry),
        "warehouse": entry.warehouse or None,
        "customer_po": entry.customer_po or None,
        "requested_delivery_date": entry.requested_delivery_date or None,
        "allow_partial": entry.allow_partial,
        "quote": quote,
        "quote_valid_until": (entry.quote_valid_until or None) if quote else None,
        "opportunity": entry.opportunity or None,
    }
    if entry.address == OTHER_ADDRESS:
        data["ship_to"] = {k: v or None for k, v in entry.ship_to.items()}
    elif entry.address:
        data["ship_to_address_id"] = entry.address
    return OrderCreate.model_validate(data)


def revision_request(
    entry: EntryForm, lines: list[dict[str, Any]], *, may_charge: bool
) -> QuoteRevision:
    """The quote's new version; its charges stay as they were for someone who may not set them."""
    return QuoteRevision.model_validate(
        {
            "lines": lines,
            "charges": _charges(entry) if may_charge else None,
            "customer_po": entry.customer_po or None,
            "requested_delivery_date": entry.requested_delivery_date or None,
            "quote_valid_until": entry.quote_valid_until or None,
        }
    )


# Request fields as the form names them.
FORM_FIELDS = {"ship_to_address_id": "ship_to", "customer_id": "", "line_prices": "lines"}


def _field(name: str | None) -> str:
    name = name or ""
    return FORM_FIELDS.get(name, name)


def refusal_errors(exc: ValidationError | DomainError) -> dict[str, str]:
    """A refused request's messages by form field."""
    if isinstance(exc, DomainError):
        return {_field(getattr(exc, "field", None)): exc.message}
    errors: dict[str, str] = {}
    for name, message in field_errors(exc).items():
        errors.setdefault(_field(name), message)
    return errors


@dataclass
class Preview:
    """The form priced: each line's view, the priced order (None when refused), the messages."""

    lines: list[LineView]
    priced: PricedOrder | None
    errors: dict[str, str]


def preview(
    session: Session,
    customer: Customer,
    entry: EntryForm,
    *,
    may_charge: bool,
    quote: bool = False,
    revising: SalesOrder | None = None,
) -> tuple[Preview, OrderCreate | QuoteRevision | None]:
    """Check and price the form as placing it would (writing nothing); with the request to
    place (or the revision to save) when nothing is wrong."""
    checked = check_lines(session, customer, entry, may_charge=may_charge)
    errors = checked.errors
    request: OrderCreate | QuoteRevision | None = None
    priced: PricedOrder | None = None
    if not errors:
        try:
            if revising is None:
                request = order_in = order_request(entry, checked.lines, quote=quote)
            else:
                request = revision_request(entry, checked.lines, may_charge=may_charge)
                order_in = quotes.revision_terms(session, revising, request)
            priced = order_service.preview(session=session, order_in=order_in).priced
        except (ValidationError, DomainError) as exc:
            errors, request = refusal_errors(exc), None
    views = _line_views(session, customer, entry, checked, priced)
    return Preview(views, priced, errors), request


def _line_views(
    session: Session,
    customer: Customer,
    entry: EntryForm,
    checked: Checked,
    priced: PricedOrder | None,
) -> list[LineView]:
    # The priced lines: the main lines first, then each main line's options in turn.
    count = len(entry.lines)
    mains, extras = (priced.lines[:count], priced.lines[count:]) if priced else ([], [])
    views = []
    for index, line in enumerate(entry.lines):
        product = checked.products.get(index)
        option_prices = {sku: extras.pop(0) for sku in line.options} if priced else {}
        views.append(
            LineView(
                index=index,
                form=line,
                product=product,
                stock=inventory_service.balances(session=session, sku=product.sku)
                if product
                else [],
                options=_option_offers(session, customer, product, line) if product else [],
                priced=mains[index] if priced else None,
                option_prices=option_prices,
            )
        )
    return views


def _option_offers(
    session: Session, customer: Customer, product: Product, line: LineForm
) -> list[catalogue.Offer]:
    """The product's options on sale (and any ticked already), at the customer's prices."""
    found = inventory_service.get_many(session=session, skus=product.options)
    on_sale = [
        found[sku]
        for sku in product.options
        if sku in found
        and (found[sku].retired_at is None or sku in line.options)
        and found[sku].currency == product.currency
    ]
    return catalogue.offers(session=session, customer=customer, products=on_sale)


def _visible(principal: Principal, customer: Customer | None) -> bool:
    """The sales record rule: a rep below the all-accounts clearance enters orders for the
    customers they own only."""
    rep = principal.own_accounts_only()
    return customer is not None and (rep is None or customer.account_rep_id == rep)


def _customer(session: Session, principal: Principal, customer_id: int) -> Customer:
    customer = customer_service.get(session=session, customer_id=customer_id)
    if customer is None or not _visible(principal, customer):
        raise NotFound(f"customer {customer_id} not found")
    return customer


def _quote(session: Session, principal: Principal, number: str) -> SalesOrder:
    """The order (NotFound when the caller may not see it)."""
    order = order_read.load(session, number)
    if not _visible(principal, session.get(Customer, order.customer_id)):
        raise NotFound(f"order {number} not found")
    return order


def _form_page(
    request: Request,
    session: Session,
    principal: Principal,
    customer: Customer,
    entry: EntryForm,
    result: Preview | None = None,
    *,
    revising: SalesOrder | None = None,
    status_code: int = 200,
) -> Response:
    may_charge = principal.can(Permission.ORDERS_TERMS)
    if result is None:
        result = Preview([], None, {})
        if entry.lines:
            result, _ = preview(session, customer, entry, may_charge=may_charge, revising=revising)
            result.errors = {}  # a freshly opened form (a quote to revise) shows no refusals
    found: list[catalogue.Offer] = []
    if entry.find:
        found, _ = catalogue.search(
            session=session, customer=customer, q=entry.find, limit=FOUND, offset=0
        )
    addresses = address_service.list_addresses(
        session=session, customer_id=customer.id or 0, kind=AddressKind.SHIPPING
    )
    context = {
        "page": "orders",
        "buyer": customer,
        "entry": entry,
        "views": result.lines,
        "blank": range(len(entry.lines), len(entry.lines) + BLANK_LINES),
        "charge_rows": [
            entry.charges[i] if i < len(entry.charges) else ("", "") for i in range(CHARGE_ROWS)
        ],
        "priced": result.priced,
        "errors": result.errors,
        "found": found,
        "addresses": addresses,
        "other_address": OTHER_ADDRESS,
        "warehouses": warehouse_service.list_all(session=session, retired=False),
        "default_warehouse": request.app.state.conveyor.settings.default_warehouse,
        "may_charge": may_charge,
        "revising": revising,
        "deal": None if revising else _deal(session, entry),
        "action": f"/orders/{revising.number}/revise"
        if revising
        else f"/orders/new?customer_id={customer.id}",
    }
    return render(request, "entry.html", context, principal=principal, status_code=status_code)


def _deal(session: Session, entry: EntryForm) -> Opportunity | None:
    """The open deal the quote is for (None: no deal); Invalid unless it is this customer's,
    Conflict once it is closed."""
    if not entry.opportunity:
        return None
    deal = opportunity_service.get_by_number(session=session, number=entry.opportunity)
    if deal is None or deal.customer_id != entry.customer_id:
        raise Invalid(f"opportunity {entry.opportunity} is not one of this customer's")
    if deal.stage not in OPEN_STAGES:
        raise Conflict(f"opportunity {deal.number} is {deal.stage}: it takes no more quotes")
    return deal


def _new_entry(session: Session, customer: Customer) -> EntryForm:
    """A fresh form: the customer's default shipping address picked, or a blank address."""
    address = address_service.default_shipping_address(
        session=session, customer_id=customer.id or 0
    )
    entry = EntryForm(customer_id=customer.id or 0)
    entry.address = str(address.id) if address else ""
    entry.ship_to = {"name": customer.name, "country": customer.country}
    return entry


@router.get("/orders/new", include_in_schema=False)
def new_order(
    request: Request,
    session: ReadSessionDep,
    principal: OrderPlacer,
    customer_id: Annotated[int | None, Query(gt=0, le=2**31 - 1)] = None,
    customer_q: Annotated[str, Query(max_length=100)] = "",
    opportunity: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """Pick the customer (search by name, e-mail or number), then the entry form for them
    (with `opportunity`: a quote for that deal of theirs)."""
    if customer_id is None:
        matches: list[Customer] = []
        if customer_q.strip():
            query = (
                customer_read.search(account_rep_id=principal.own_accounts_only())
                .where(customer_read.matches(customer_q.strip()))
                .where(col(Customer.retired_at).is_(None))
            )
            order = (col(Customer.name), col(Customer.id))
            rows, _ = one_page(session, query, *order, limit=FOUND, offset=0)
            matches = [row[0] for row in rows]
        context = {"page": "orders", "customer_q": customer_q, "matches": matches}
        return render(request, "entry_customer.html", context, principal=principal)
    try:
        customer = _customer(session, principal, customer_id)
        entry = _new_entry(session, customer)
        entry.opportunity = opportunity.strip()
        _deal(session, entry)
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)
    return _form_page(request, session, principal, customer, entry)


@router.post("/orders/new", include_in_schema=False, dependencies=[CsrfChecked])
async def enter_order(
    request: Request,
    state: StateDep,
    principal: OrderPlacer,
    web: WebSessionDep,
    customer_id: Annotated[int, Query(gt=0, le=2**31 - 1)],
) -> Response:
    """Preview, find a product, add it, place the order or save it as a quote (`action`)."""
    form = await request.form()
    action = form.get("action") if not form.get("add") else "preview"
    quote = action == "quote"
    with session_scope(state.read_engine) as session:
        try:
            customer = _customer(session, principal, customer_id)
        except NotFound as exc:
            return page_refusal(request, exc, principal=principal)
        entry = read_entry(form, customer_id)
        try:
            if _deal(session, entry) is not None and action == "place":
                raise Invalid("a deal's order starts as a quote: use Save as quote")
        except DomainError as exc:
            return page_refusal(request, exc, principal=principal)
        may_charge = principal.can(Permission.ORDERS_TERMS)
        # A validity date typed in is checked at once; it is sent only with Save as quote.
        checked_as_quote = quote or bool(entry.quote_valid_until)
        result, order_in = preview(
            session, customer, entry, may_charge=may_charge, quote=checked_as_quote
        )
        if action not in ("place", "quote") or order_in is None:
            code = 422 if action in ("place", "quote") else 200
            return _form_page(
                request, session, principal, customer, entry, result, status_code=code
            )
    assert isinstance(order_in, OrderCreate)
    if not quote:
        order_in = order_in.model_copy(update={"quote": False, "quote_valid_until": None})
    try:
        order = await order_flows.place_order(
            state,
            order_in=order_in,
            created_by=principal.name,
            actor=principal.actor(Source.PAGE),
            request_key=scoped_key("order", principal.name, entry.key),
        )
    except DomainError as exc:
        result.errors = refusal_errors(exc)
        with session_scope(state.read_engine) as session:
            return _form_page(
                request, session, principal, customer, entry, result, status_code=exc.status
            )
    kind = "Quote" if quote else "Order"
    web.flash = f"{kind} {order.number} saved for {customer.name}."
    return redirect(request, f"/orders/{order.number}", web)


def _revise_refusal(principal: Principal) -> Forbidden | None:
    """Revising places a new quote: orders.place as well as orders.modify."""
    if principal.can(Permission.ORDERS_PLACE):
        return None
    return Forbidden(refusal(Permission.ORDERS_PLACE))


def _quote_entry(session: Session, order: SalesOrder) -> EntryForm:
    """The form prefilled from the quote: its lines (options under their main line), special
    charges and terms."""
    rows = order_service.lines(session=session, order_id=order.id or 0)
    mains = [row for row in rows if row.parent_line_id is None]
    lines = [
        LineForm(
            sku=main.sku,
            qty=str(main.qty),
            options=[r.sku for r in rows if r.parent_line_id == main.id],
        )
        for main in mains
    ]
    charges = [
        (c.description, str(c.amount))
        for c in order_service.charges(session=session, order_id=order.id or 0)
        if c.kind == "special"
    ]
    return EntryForm(
        customer_id=order.customer_id,
        lines=lines,
        charges=charges,
        warehouse=order.warehouse or "",
        customer_po=order.customer_po or "",
        requested_delivery_date=str(order.requested_delivery_date or ""),
        allow_partial=order.allow_partial,
        quote_valid_until=str(order.quote_valid_until or ""),
    )


@router.get("/orders/{number}/revise", include_in_schema=False)
def revise_page(
    number: str, request: Request, session: ReadSessionDep, principal: QuoteReviser
) -> Response:
    """The entry form prefilled from an open quote, to save its next version."""
    try:
        order = _quote(session, principal, number)  # an unknown order is a 404, whoever asks
        if refused := _revise_refusal(principal):
            raise refused
        quotes.check_revisable(order)
        customer = _customer(session, principal, order.customer_id)
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)
    entry = _quote_entry(session, order)
    return _form_page(request, session, principal, customer, entry, revising=order)


@router.post("/orders/{number}/revise", include_in_schema=False, dependencies=[CsrfChecked])
async def revise_quote(
    number: str, request: Request, state: StateDep, principal: QuoteReviser, web: WebSessionDep
) -> Response:
    """Preview the new version, or save it: the old quote is superseded and voided."""
    form = await request.form()
    action = form.get("action") if not form.get("add") else "preview"
    may_charge = principal.can(Permission.ORDERS_TERMS)
    with session_scope(state.read_engine) as session:
        try:
            order = _quote(session, principal, number)
            if refused := _revise_refusal(principal):
                raise refused
            customer = _customer(session, principal, order.customer_id)
        except DomainError as exc:
            return page_refusal(request, exc, principal=principal)
        entry = read_entry(form, order.customer_id)
        result, revision = preview(session, customer, entry, may_charge=may_charge, revising=order)
        if action != "revise" or revision is None:
            code = 422 if action == "revise" else 200
            return _form_page(
                request,
                session,
                principal,
                customer,
                entry,
                result,
                revising=order,
                status_code=code,
            )
    assert isinstance(revision, QuoteRevision)
    try:
        new = await order_flows.revise_quote(
            state,
            number=number,
            revision=revision,
            created_by=principal.name,
            actor=principal.actor(Source.PAGE),
        )
    except DomainError as exc:
        result.errors = refusal_errors(exc)
        with session_scope(state.read_engine) as session:
            return _form_page(
                request,
                session,
                principal,
                customer,
                entry,
                result,
                revising=order,
                status_code=exc.status,
            )
    web.flash = f"Quote {new.number} (version {new.quote_version}) replaces {number}."
    return redirect(request, f"/orders/{new.number}", web)


@router.get("/orders/{number}/quote.pdf", include_in_schema=False)
def quote_pdf_page(
    number: str, request: Request, session: ReadSessionDep, principal: OrderViewer
) -> Response:
    """The quote as a PDF (an order that was a quote: as it was offered)."""
    try:
        order = _quote(session, principal, number)
        _check_quote(order)
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)
    return pdf_response(quote_pdf.render(session=session, order=order), f"quote-{number}.pdf")


def _check_quote(order: SalesOrder) -> None:
    """NotFound unless the order is, or was, a quote (an accepted one: as it was offered)."""
    if not order.explicit_quote and order.status != OrderStatus.QUOTE:
        raise NotFound(f"order {order.number} is not a quote")


@router.get("/customer/orders/{number}/quote.pdf", include_in_schema=False)
def customer_quote_pdf(
    number: str, request: Request, session: ReadSessionDep, customer: CustomerDep
) -> Response:
    """The customer's own quote as a PDF (anyone else's is as if missing)."""
    order = order_service.get_by_number(session=session, number=number[:32])
    try:
        if order is None or order.customer_id != customer.id:
            raise NotFound(f"order {number} not found")
        _check_quote(order)
    except NotFound as exc:
        return page_refusal(request, exc, customer=customer)
    return pdf_response(quote_pdf.render(session=session, order=order), f"quote-{number}.pdf")
