"""Customer-center ordering: catalogue, product page, cart, checkout and confirmation."""

from datetime import date
from math import ceil
from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import ReadSessionDep, StateDep
from conveyor.core.errors import DomainError, Invalid, NotFound
from conveyor.core.models import row_id
from conveyor.core.state import in_session
from conveyor.customer import addresses as address_service
from conveyor.customer.models import AddressKind, Customer
from conveyor.order import service as order_service
from conveyor.pages.auth import redirect
from conveyor.pages.web import (
    CsrfChecked,
    CustomerDep,
    WebSessionDep,
    page_refusal,
    page_router,
    render,
)
from conveyor.shop import catalogue
from conveyor.shop import flows as shop_flows
from conveyor.shop import service as cart_service
from conveyor.shop.flows import CheckoutInput, customer_actor

router = page_router()
PAGE_SIZE = 24
SKU_MAX = 64
CART = "/shop/cart"


def _quantity(text: str) -> int:
    """A quantity typed into a form (Invalid unless a whole number in the cart's bounds)."""
    try:
        qty = int(text.strip())
    except ValueError:
        raise Invalid("the quantity must be a whole number") from None
    if not 0 <= qty <= cart_service.MAX_QTY:
        raise Invalid(f"the quantity must be between 1 and {cart_service.MAX_QTY}")
    return qty


@router.get("/shop", include_in_schema=False)
def shop(
    request: Request,
    session: ReadSessionDep,
    customer: CustomerDep,
    q: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    """The catalogue at the customer's own prices, with availability; search and pages."""
    offers, count = catalogue.search(
        session=session,
        customer=customer,
        q=q.strip() or None,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    context = {
        "offers": offers,
        "count": count,
        "q": q,
        "page_no": page,
        "pages": max(ceil(count / PAGE_SIZE), 1),
        "in_cart": _cart_count(session, customer),
        "page": "shop",
    }
    return render(request, "shop.html", context, customer=customer)


def _cart_count(session: Session, customer: Customer) -> int:
    cart = cart_service.get_cart(session=session, customer_id=row_id(customer))
    return len(cart_service.lines(session=session, cart_id=row_id(cart))) if cart else 0


@router.get("/shop/products/{sku}", include_in_schema=False)
def product(sku: str, request: Request, session: ReadSessionDep, customer: CustomerDep) -> Response:
    """One product with its options, at the customer's prices (404 when not on sale)."""
    found = catalogue.product_offer(session=session, customer=customer, sku=sku[:SKU_MAX])
    if found is None:
        return page_refusal(request, NotFound(f"product {sku} not found"), customer=customer)
    offer, options = found
    context = {"offer": offer, "options": options, "page": "shop"}
    return render(request, "shop_product.html", context, customer=customer)


@router.post(CART, include_in_schema=False, dependencies=[CsrfChecked])
async def add_to_cart(
    request: Request,
    state: StateDep,
    customer: CustomerDep,
    web: WebSessionDep,
    sku: Annotated[str, Form(max_length=SKU_MAX)] = "",
    qty: Annotated[str, Form(max_length=10)] = "1",
    options: Annotated[list[str], Form(max_length=cart_service.MAX_OPTIONS)] = [],  # noqa: B006
) -> Response:
    """Put a product (with the options ticked) in the cart; refusals come back as a flash."""
    back = f"/shop/products/{sku}" if sku else "/shop"
    try:
        count = _quantity(qty)
        if count == 0 or any(len(o) > SKU_MAX for o in options):
            raise Invalid(f"the quantity must be between 1 and {cart_service.MAX_QTY}")
        await in_session(
            state,
            lambda s: cart_service.add(
                session=s,
                customer_id=row_id(customer),
                sku=sku,
                qty=count,
                options=options,
                actor=customer_actor(customer),
            ),
        )
    except DomainError as exc:
        return page_refusal(request, exc, web=web, flash="Not added", back=back, customer=customer)
    web.flash = f"{sku} × {count} is in your cart."
    return redirect(request, CART, web)


@router.get(CART, include_in_schema=False)
def cart(request: Request, session: ReadSessionDep, customer: CustomerDep) -> Response:
    """The cart at the customer's prices, with the totals the order would have."""
    context = _cart_context(session, customer) | {"page": "shop"}
    return render(request, "cart.html", context, customer=customer)


def _cart_context(session: Session, customer: Customer, country: str | None = None) -> dict:
    customer_id = row_id(customer)
    cart = cart_service.get_cart(session=session, customer_id=customer_id)
    lines = cart_service.lines(session=session, cart_id=row_id(cart)) if cart else []
    view = catalogue.cart_view(
        session=session, customer=customer, cart_lines=lines, country=country
    )
    return {"view": view, "checkout_key": cart.checkout_key if cart else ""}


@router.post(CART + "/{sku}", include_in_schema=False, dependencies=[CsrfChecked])
async def change_line(
    sku: str,
    request: Request,
    state: StateDep,
    customer: CustomerDep,
    web: WebSessionDep,
    qty: Annotated[str, Form(max_length=10)] = "0",
) -> Response:
    """Change a line's quantity; 0 (the Remove button) takes it out of the cart."""
    try:
        count = _quantity(qty)
        await in_session(
            state,
            lambda s: cart_service.set_qty(
                session=s,
                customer_id=row_id(customer),
                sku=sku[:SKU_MAX],
                qty=count,
                actor=customer_actor(customer),
            ),
        )
    except DomainError as exc:
        return page_refusal(
            request, exc, web=web, flash="Not changed", back=CART, customer=customer
        )
    web.flash = f"{sku} removed from your cart." if count == 0 else "Your cart is updated."
    return redirect(request, CART, web)


@router.get("/shop/checkout", include_in_schema=False)
def checkout_page(
    request: Request,
    session: ReadSessionDep,
    customer: CustomerDep,
    address: Annotated[int | None, Query(gt=0)] = None,
) -> Response:
    """Where it goes, the customer's PO reference and the wanted date, then the order."""
    customer_id = row_id(customer)
    addresses = address_service.list_addresses(
        session=session, customer_id=customer_id, kind=AddressKind.SHIPPING
    )
    chosen = next((a for a in addresses if a.id == address), addresses[0] if addresses else None)
    context = _cart_context(session, customer, chosen.country if chosen else None)
    if not context["view"].lines:
        return redirect(request, CART)
    context |= {"addresses": addresses, "chosen": chosen, "error": None, "page": "shop"}
    return render(request, "checkout.html", context, customer=customer)


@router.post("/shop/checkout", include_in_schema=False, dependencies=[CsrfChecked])
async def place_order(
    request: Request,
    state: StateDep,
    customer: CustomerDep,
    web: WebSessionDep,
    checkout_key: Annotated[str, Form(max_length=64)] = "",
    ship_to_address_id: Annotated[str, Form(max_length=12)] = "",
    customer_po: Annotated[str, Form(max_length=64)] = "",
    requested_delivery_date: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Place the order (once, however often the form is sent) and show its confirmation."""
    try:
        wanted = date.fromisoformat(requested_delivery_date) if requested_delivery_date else None
        address_id = int(ship_to_address_id)
    except ValueError:
        exc = Invalid("choose a delivery address and a valid date")
        return page_refusal(request, exc, web=web, back="/shop/checkout", customer=customer)
    checkout = CheckoutInput(
        checkout_key=checkout_key,
        ship_to_address_id=address_id,
        customer_po=customer_po.strip() or None,
        requested_delivery_date=wanted,
    )
    try:
        number = await shop_flows.checkout(state, customer=customer, checkout=checkout)
    except DomainError as exc:
        back = "/shop/checkout" if exc.status != 409 else CART
        return page_refusal(
            request, exc, web=web, flash="Not ordered", back=back, customer=customer
        )
    web.flash = f"Thank you! Your order {number} is placed."
    return redirect(request, f"/shop/orders/{number}", web)


@router.get("/shop/orders/{number}", include_in_schema=False)
def confirmation(
    number: str, request: Request, session: ReadSessionDep, customer: CustomerDep
) -> Response:
    """The order confirmation: what was ordered, at what price, where it goes."""
    order = order_service.get_by_number(session=session, number=number[:32])
    if order is None or order.customer_id != customer.id:  # someone else's: as if missing
        return page_refusal(request, NotFound(f"order {number} not found"), customer=customer)
    lines = order_service.lines(session=session, order_id=row_id(order))
    charges = order_service.charges(session=session, order_id=row_id(order))
    context = {"order": order, "lines": lines, "charges": charges, "page": "shop"}
    return render(request, "shop_confirmation.html", context, customer=customer)
