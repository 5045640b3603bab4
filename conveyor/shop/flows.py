"""Checkout: the cart becomes an order through the order flow (channel `customer_center`).

A checkout form carries the cart's checkout key. The order's external reference is made from
it, and (channel, external_ref) is unique, so a double submit, or two at once, places one order:
the second finds the first. A form shown before the cart last changed places nothing.
"""

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from conveyor.audit.models import ActorKind, Source
from conveyor.audit.service import Actor
from conveyor.core.errors import Conflict, NotFound
from conveyor.core.models import row_id, utcnow
from conveyor.core.state import AppState, in_session
from conveyor.customer import addresses as address_service
from conveyor.customer.models import Customer
from conveyor.inventory import service as inventory_service
from conveyor.order import flows as order_flows
from conveyor.order import service as order_service
from conveyor.order.enums import Channel
from conveyor.order.models import OrderCreate, OrderLineCreate, OrderOptionCreate, SalesOrder
from conveyor.shop import service as cart_service
from conveyor.shop.service import CartError, orderable

REFERENCE_PREFIX = "cart-"
# How far ahead a delivery date may be requested.
MAX_DAYS_AHEAD = 366


@dataclass(frozen=True)
class CheckoutInput:
    """What the checkout form sends."""

    checkout_key: str
    ship_to_address_id: int
    customer_po: str | None = None
    requested_delivery_date: date | None = None


def customer_actor(customer: Customer, source: Source = Source.PAGE) -> Actor:
    """The customer as the actor of the changes they make in the customer center."""
    return Actor(name=customer.email, kind=ActorKind.CUSTOMER, source=source)


def reference(checkout_key: str) -> str:
    """The external reference of the order a checkout key places."""
    return f"{REFERENCE_PREFIX}{checkout_key}"


def _placed(session: Session, customer_id: int, checkout_key: str) -> SalesOrder | None:
    order = order_service.get_by_external_ref(
        session=session, channel=Channel.CUSTOMER_CENTER, external_ref=reference(checkout_key)
    )
    return order if order is not None and order.customer_id == customer_id else None


def _order_request(session: Session, customer: Customer, checkout: CheckoutInput) -> OrderCreate:
    """The order the cart makes; refuses a stale form, an empty cart, a retired product."""
    customer_id = row_id(customer)
    cart = cart_service.get_cart(session=session, customer_id=customer_id)
    if cart is None or cart.checkout_key != checkout.checkout_key:
        raise Conflict("your cart changed since this page was shown: check it and order again")
    lines = cart_service.lines(session=session, cart_id=row_id(cart))
    if not lines:
        raise CartError("your cart is empty")
    for line in lines:
        for sku in (line.sku, *line.options):
            orderable(inventory_service.get_by_sku(session=session, sku=sku), sku)
    address = address_service.get_address(
        session=session, customer_id=customer_id, address_id=checkout.ship_to_address_id
    )
    if address is None or address.retired_at is not None or address.kind != "shipping":
        raise NotFound(f"shipping address {checkout.ship_to_address_id} not found")
    wanted = checkout.requested_delivery_date
    today = utcnow().date()
    if wanted is not None and not 0 <= (wanted - today).days <= MAX_DAYS_AHEAD:
        raise CartError(f"the delivery date must be between today and {MAX_DAYS_AHEAD} days ahead")
    return OrderCreate(
        customer_id=customer_id,
        channel=Channel.CUSTOMER_CENTER,
        external_ref=reference(checkout.checkout_key),
        lines=[
            OrderLineCreate(
                sku=line.sku,
                qty=line.qty,
                options=[OrderOptionCreate(sku=sku) for sku in line.options],
            )
            for line in lines
        ],
        ship_to_country=address.country,
        ship_to_address_id=address.id,
        customer_po=checkout.customer_po or None,
        requested_delivery_date=wanted,
    )


async def checkout(state: AppState, *, customer: Customer, checkout: CheckoutInput) -> str:
    """Place the cart's order (once per checkout key) and empty the cart; its order number.

    Conflict for a form older than the cart, CartError (422) for an empty cart, a retired
    product or a bad date, NotFound for an address that is not the customer's own.
    """
    customer_id = row_id(customer)
    actor = customer_actor(customer)

    def prepare(session: Session) -> SalesOrder | OrderCreate:
        done = _placed(session, customer_id, checkout.checkout_key)
        return done if done is not None else _order_request(session, customer, checkout)

    prepared = await in_session(state, prepare, read_only=True)
    if isinstance(prepared, SalesOrder):  # submitted again after it went through
        return prepared.number or ""
    try:
        order = await order_flows.place_order(
            state, order_in=prepared, created_by=customer.email, actor=actor
        )
        number = order.number or ""
    except order_service.DuplicateExternalRefError:  # the same form, submitted meanwhile
        # (The error's order belongs to a rolled-back session: read the winner afresh.)
        winner = await in_session(
            state, lambda s: _placed(s, customer_id, checkout.checkout_key), read_only=True
        )
        if winner is None:
            raise
        number = winner.number or ""
    await in_session(
        state,
        lambda s: cart_service.empty_after_checkout(
            session=s,
            customer_id=customer_id,
            checkout_key=checkout.checkout_key,
            order_number=number,
            actor=actor,
        ),
    )
    return number
