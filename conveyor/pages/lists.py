"""The staff lists: orders, customers, products, invoices and returns (each also as CSV)."""

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep
from conveyor.auth.permissions import Permission
from conveyor.core.models import utcnow
from conveyor.customer import read as customer_read
from conveyor.inventory import read as product_read
from conveyor.inventory.models import Product
from conveyor.invoice import read as invoice_read
from conveyor.invoice.models import Invoice
from conveyor.invoice.standing import due_on
from conveyor.order import read as order_read
from conveyor.order.enums import STEPS, Channel, OrderStatus
from conveyor.order.models import SalesOrder
from conveyor.pages import listing
from conveyor.pages.listing import Filter, Listing, ListView
from conveyor.pages.web import page_router, render, require_page
from conveyor.returns import read as return_read
from conveyor.returns.models import ReturnStatus

router = page_router()
CUSTOMER = Filter("customer", "Customer", placeholder="name, e-mail or number")


def _show(
    request: Request,
    session: Session,
    principal: Principal,
    view: ListView,
    query: Any,
    name: str,
    **extra: Any,
) -> Response:
    """The list page: one page of the query's rows."""
    items = listing.rows(session, view, query)
    context = listing.context(view, name, items, **extra)
    return render(request, f"list_{name}.html", context, principal=principal)


def _iso(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else ""


# ---- orders ---------------------------------------------------------------------------------

ORDERS = Listing(
    path="/orders",
    filters=(
        Filter("number", "Number", placeholder="order number"),
        Filter("status", "Status", "choice", tuple(OrderStatus)),
        Filter("step", "Step", "choice", tuple(STEPS)),
        Filter("channel", "Channel", "choice", tuple(Channel)),
        CUSTOMER,
        Filter("since", "From", "date"),
        Filter("until", "Until", "date"),
    ),
    sorts=order_read.SORTS,
    default_sort="number",
    tiebreak=order_read.SORTS["number"],
)


def _orders(request: Request, principal: Principal) -> tuple[ListView, Any]:
    view = listing.read(ORDERS, request)
    since, until = view.get("since"), view.get("until")
    query = order_read.search(
        number=view.get("number"),
        status=view.get("status"),
        step=view.get("step"),
        channel=view.get("channel"),
        customer=view.get("customer"),
        since=listing.day_start(since) if since else None,
        before=listing.day_end(until) if until else None,
        account_rep_id=principal.own_accounts_only(),
    )
    return view, query


@router.get("/orders", include_in_schema=False)
def orders_list(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.ORDERS_VIEW)],
) -> Response:
    """Orders, filtered by status, step, channel, customer and date; a rep sees their own."""
    view, query = _orders(request, principal)
    may_place = principal.can(Permission.ORDERS_PLACE)
    return _show(request, session, principal, view, query, "orders", may_place=may_place)


@router.get("/orders.csv", include_in_schema=False)
def orders_csv(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.ORDERS_VIEW)],
) -> Response:
    """The same filtered orders as CSV."""
    view, query = _orders(request, principal)
    header = (
        "number",
        "created",
        "customer",
        "customer_id",
        "channel",
        "status",
        "step",
        "currency",
        "total",
    )

    def row(found: Any) -> Sequence[object]:
        order: SalesOrder = found[0]
        return (
            order.number,
            _iso(order.created_at),
            found[1].name,
            order.customer_id,
            order.channel,
            order.status,
            order.current_step or "",
            order.currency,
            order.total,
        )

    return listing.export(session, view, query, header=header, row=row, filename="orders")


# ---- customers ------------------------------------------------------------------------------

CUSTOMERS = Listing(
    path="/customers",
    filters=(
        Filter("name", "Name"),
        Filter("email", "E-mail"),
        Filter("group", "Group", "choice"),
    ),
    sorts=customer_read.SORTS,
    default_sort="name",
    default_desc=False,
    tiebreak=customer_read.SORTS["created"],
)


def _customers(request: Request, session: Session, principal: Principal) -> tuple[ListView, Any]:
    groups = customer_read.groups(session)
    shape = replace(
        CUSTOMERS,
        filters=[replace(f, choices=groups) if f.name == "group" else f for f in CUSTOMERS.filters],
    )
    view = listing.read(shape, request)
    query = customer_read.search(
        name=view.get("name"),
        email=view.get("email"),
        group=view.get("group"),
        account_rep_id=principal.own_accounts_only(),
    )
    return view, query


@router.get("/customers", include_in_schema=False)
def customers_list(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.CUSTOMERS_VIEW)],
) -> Response:
    """Customers, filtered by name, e-mail and group; a sales rep sees the ones they own."""
    view, query = _customers(request, session, principal)
    may_create = principal.can(Permission.CUSTOMERS_EDIT)
    return _show(request, session, principal, view, query, "customers", may_create=may_create)


@router.get("/customers.csv", include_in_schema=False)
def customers_csv(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.CUSTOMERS_VIEW)],
) -> Response:
    """The same filtered customers as CSV."""
    view, query = _customers(request, session, principal)
    header = (
        "id",
        "name",
        "email",
        "group",
        "country",
        "credit_limit",
        "payment_terms_days",
        "account_rep",
        "created",
    )

    def row(found: Any) -> Sequence[object]:
        customer, rep = found
        return (
            customer.id,
            customer.name,
            customer.email,
            customer.group,
            customer.country,
            customer.credit_limit,
            customer.payment_terms_days,
            rep.email if rep else "",
            _iso(customer.created_at),
        )

    return listing.export(session, view, query, header=header, row=row, filename="customers")


# ---- products -------------------------------------------------------------------------------

PRODUCTS = Listing(
    path="/products",
    filters=(Filter("name", "Name"), Filter("sku", "SKU"), Filter("tag", "Tag")),
    sorts=product_read.SORTS,
    default_sort="sku",
    default_desc=False,
    tiebreak=product_read.SORTS["sku"],
)


def _products(request: Request) -> tuple[ListView, Any]:
    view = listing.read(PRODUCTS, request)
    query = product_read.search(name=view.get("name"), sku=view.get("sku"), tag=view.get("tag"))
    return view, query


@router.get("/products", include_in_schema=False)
def products_list(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.STOCK_VIEW)],
) -> Response:
    """Products with their stock, filtered by name, SKU and tag."""
    view, query = _products(request)
    may_create = principal.can(Permission.PRODUCTS_MANAGE)
    return _show(request, session, principal, view, query, "products", may_create=may_create)


@router.get("/products.csv", include_in_schema=False)
def products_csv(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.STOCK_VIEW)],
) -> Response:
    """The same filtered products as CSV."""
    view, query = _products(request)
    header = (
        "sku",
        "name",
        "price",
        "currency",
        "tags",
        "tax_class",
        "drop_ship",
        "drop_ship_allowed",
        "supplier_email",
        "kind",
        "on_hand",
        "committed",
        "available",
    )

    def row(product: Product) -> Sequence[object]:
        return (
            product.sku,
            product.name,
            product.price,
            product.currency,
            ";".join(product.tags),
            product.tax_class,
            "yes" if product.drop_ship else "no",
            "yes" if product.drop_ship_allowed else "no",
            product.supplier_email or "",
            product.kind,
            product.on_hand,
            product.committed,
            product.on_hand - product.committed,
        )

    return listing.export(session, view, query, header=header, row=row, filename="products")


# ---- invoices -------------------------------------------------------------------------------

INVOICES = Listing(
    path="/invoices",
    filters=(
        Filter("status", "Status", "choice", tuple(invoice_read.PaymentState)),
        CUSTOMER,
        Filter("order", "Order", placeholder="order number"),
    ),
    sorts={},
    default_sort="number",
    tiebreak=None,
)


def _invoices(request: Request, session: Session, principal: Principal) -> tuple[ListView, Any]:
    now = utcnow()
    sorts = invoice_read.sorts(session, now)
    view = listing.read(replace(INVOICES, sorts=sorts, tiebreak=sorts["number"]), request)
    query = invoice_read.search(
        session,
        now=now,
        status=view.get("status"),
        customer=view.get("customer"),
        order=view.get("order"),
        account_rep_id=principal.own_accounts_only(),
    )
    return view, query


@router.get("/invoices", include_in_schema=False)
def invoices_list(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.INVOICES_VIEW)],
) -> Response:
    """Invoices with their payment state (paid, open, overdue), filtered by state and customer."""
    view, query = _invoices(request, session, principal)
    return _show(request, session, principal, view, query, "invoices", due=due_on)


@router.get("/invoices.csv", include_in_schema=False)
def invoices_csv(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.INVOICES_VIEW)],
) -> Response:
    """The same filtered invoices as CSV."""
    view, query = _invoices(request, session, principal)
    header = ("number", "order", "customer", "issued", "due", "currency", "total", "status")

    def row(found: Any) -> Sequence[object]:
        invoice: Invoice = found[0]
        return (
            invoice.number,
            found[1],
            found[2].name,
            _iso(invoice.issued_at),
            due_on(invoice, found[2]),
            invoice.currency,
            invoice.total,
            found[3],
        )

    return listing.export(session, view, query, header=header, row=row, filename="invoices")


# ---- returns --------------------------------------------------------------------------------

RETURNS = Listing(
    path="/returns",
    filters=(
        Filter("status", "Status", "choice", tuple(ReturnStatus)),
        Filter("order", "Order", placeholder="order number"),
        CUSTOMER,
    ),
    sorts=return_read.SORTS,
    default_sort="number",
    tiebreak=return_read.SORTS["number"],
)


def _returns(request: Request, principal: Principal) -> tuple[ListView, Any]:
    view = listing.read(RETURNS, request)
    query = return_read.search(
        status=view.get("status"),
        order=view.get("order"),
        customer=view.get("customer"),
        account_rep_id=principal.own_accounts_only(),
    )
    return view, query


@router.get("/returns", include_in_schema=False)
def returns_list(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.RETURNS_VIEW)],
) -> Response:
    """Return authorisations, filtered by status, order and customer."""
    view, query = _returns(request, principal)
    return _show(request, session, principal, view, query, "returns")


@router.get("/returns.csv", include_in_schema=False)
def returns_csv(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.RETURNS_VIEW)],
) -> Response:
    """The same filtered returns as CSV."""
    view, query = _returns(request, principal)
    header = ("number", "order", "customer", "status", "currency", "credit", "refund", "created")

    def row(found: Any) -> Sequence[object]:
        rma, customer = found
        return (
            rma.number,
            rma.order_number,
            customer.name,
            rma.status,
            rma.currency,
            rma.credit_total,
            rma.refund_total,
            _iso(rma.created_at),
        )

    return listing.export(session, view, query, header=header, row=row, filename="returns")
