"""Order operations: capture, look-up, listing, state and trail."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from math import ceil
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select
from sqlmodel.sql.expression import SelectOfScalar

from conveyor.audit.service import Actor, snapshot
from conveyor.audit.service import record as audit
from conveyor.core import keyset
from conveyor.core.db import contains_text
from conveyor.core.errors import Conflict, Invalid
from conveyor.core.keyset import KeysetOrder, Page, Segment
from conveyor.core.models import row_id, utcnow
from conveyor.customer import addresses as customer_addresses
from conveyor.customer.models import AddressKind, Customer
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import Product, may_drop_ship
from conveyor.order.enums import OrderStatus
from conveyor.order.models import (
    OrderCharge,
    OrderCreate,
    OrderEvent,
    OrderLine,
    SalesOrder,
    ShipTo,
)
from conveyor.outbound import events as outbound_events
from conveyor.pricing import engine as pricing_engine
from conveyor.pricing import service as pricing_service
from conveyor.purchasing import sourcing

# Money columns are NUMERIC(14, 2).
MAX_AMOUNT = Decimal("1000000000000")
# How far ahead a delivery may be requested, and a quote be valid.
MAX_DELIVERY_DAYS = 731
MAX_QUOTE_DAYS = 366
DEFAULT_QUOTE_VALIDITY_SECONDS = 14 * 24 * 3600.0


class OrderError(Invalid):
    """An order request that breaks a rule (unknown SKU, unknown customer); `field` names the
    request field it is about, when one is (the entry page shows the message next to it)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class DuplicateRequestError(Conflict):
    """An order was placed with this idempotency key already (`order` is it)."""

    def __init__(self, order: SalesOrder) -> None:
        super().__init__(f"order {order.number} was placed with this idempotency key")
        self.order = order


class DuplicateExternalRefError(Conflict):
    """An order with that channel and external reference exists already (`order` is it)."""

    def __init__(self, order: SalesOrder) -> None:
        super().__init__(f"order {order.number} already has this external reference")
        self.order = order
        self.number = order.number


def get_by_number(*, session: Session, number: str) -> SalesOrder | None:
    """The order with that number, or None."""
    return session.exec(select(SalesOrder).where(SalesOrder.number == number)).first()


def get_by_external_ref(*, session: Session, channel: str, external_ref: str) -> SalesOrder | None:
    """The order a channel already created for its external reference, or None."""
    return session.exec(
        select(SalesOrder)
        .where(SalesOrder.channel == channel)
        .where(SalesOrder.external_ref == external_ref)
    ).first()


def get_by_request_key(*, session: Session, request_key: str) -> SalesOrder | None:
    """The order placed with that (scoped) idempotency key, or None."""
    return session.exec(select(SalesOrder).where(SalesOrder.request_key == request_key)).first()


def lines(*, session: Session, order_id: int) -> list[OrderLine]:
    """The order's lines in entry order."""
    return list(
        session.exec(
            select(OrderLine).where(OrderLine.order_id == order_id).order_by(col(OrderLine.id))
        )
    )


def events(*, session: Session, order_id: int) -> list[OrderEvent]:
    """The order's processing trail, oldest first."""
    return list(
        session.exec(
            select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(col(OrderEvent.id))
        )
    )


def charges(*, session: Session, order_id: int) -> list[OrderCharge]:
    """The order's shipping and special charges."""
    return list(
        session.exec(
            select(OrderCharge)
            .where(OrderCharge.order_id == order_id)
            .order_by(col(OrderCharge.id))
        )
    )


def create(
    *,
    session: Session,
    order_in: OrderCreate,
    created_by: str,
    actor: Actor,
    number_prefix: str = "SO",
    line_prices: Sequence[Decimal | None] | None = None,
    request_key: str | None = None,
    quote_validity_seconds: float = DEFAULT_QUOTE_VALIDITY_SECONDS,
) -> SalesOrder:
    """Price and record a new order with a fresh human-readable number.

    `line_prices` (one per line, None = price it) are prices as a store charged them; they
    bypass the price agreements. A `unit_price` attribute on a line does the same.
    `request_key` (a scoped idempotency key) makes a repeated request one order.
    An explicit quote (`order_in.quote`) is valid until its date, by default
    `quote_validity_seconds` from today.
    Raises OrderError for an unknown customer or SKU (or a bad date or ship-to address),
    DuplicateExternalRefError when the channel already sent this external reference,
    DuplicateRequestError when the idempotency key placed an order already.
    """
    if request_key and (repeated := get_by_request_key(session=session, request_key=request_key)):
        raise DuplicateRequestError(repeated)
    entry = _priced(session, order_in, line_prices)
    priced = entry.priced
    if order_in.external_ref:
        existing = get_by_external_ref(
            session=session, channel=order_in.channel, external_ref=order_in.external_ref
        )
        if existing:
            raise DuplicateExternalRefError(existing)
    today = utcnow().date()
    order = SalesOrder(
        channel=order_in.channel,
        customer_id=order_in.customer_id,
        external_ref=order_in.external_ref,
        currency=priced.currency,
        prepaid=order_in.prepaid,
        opportunity=order_in.opportunity,
        allow_partial=order_in.allow_partial,
        warehouse=order_in.warehouse,
        ship_to_country=order_in.ship_to_country,
        prices_include_tax=order_in.prices_include_tax,
        created_by=created_by,
        customer_po=order_in.customer_po,
        requested_delivery_date=order_in.requested_delivery_date,
        request_key=request_key,
    )
    _apply_ship_to(order, entry.ship_to)
    if order_in.quote:
        # A quote from the start: revisable and shown as one before its workflow runs.
        order.explicit_quote = True
        order.status = OrderStatus.QUOTE
        order.quote_valid_until = order_in.quote_valid_until or default_valid_until(
            today, quote_validity_seconds
        )
    _apply_totals(order, priced)
    order_lines, order_charges = _priced_rows(priced, entry.products)
    asked = [line_in.drop_ship for line_in in order_in.lines]
    _set_sources(session, order_lines, entry.products, asked)
    placed = record(
        session=session,
        order=order,
        number_prefix=number_prefix,
        lines=order_lines,
        parents=entry.parents,
        charges=order_charges,
    )
    audit_placed(session=session, order=placed, lines=order_lines, actor=actor)
    return placed


@dataclass(frozen=True)
class PricedEntry:
    """An order request checked and priced, not yet recorded."""

    customer: Customer
    priced: pricing_engine.PricedOrder
    products: dict[str, Product]
    parents: list[int | None]  # per priced line: the index of the line it is an option of
    ship_to: ShipTo | None


def preview(*, session: Session, order_in: OrderCreate) -> PricedEntry:
    """Check and price an order as `create` would, writing nothing (the entry page's preview)."""
    return _priced(session, order_in, None)


def _priced(
    session: Session, order_in: OrderCreate, line_prices: Sequence[Decimal | None] | None
) -> PricedEntry:
    """The customer, the order's pricing and its ship-to address, after every check."""
    customer = session.get(Customer, order_in.customer_id)
    if customer is None:
        raise OrderError(f"unknown customer {order_in.customer_id}", field="customer_id")
    if customer.retired_at is not None:
        raise OrderError(
            f"customer {customer.id} ({customer.name}) is retired and cannot place new orders",
            field="customer_id",
        )
    check_entry(order_in, today=utcnow().date())
    products, currency = _checked_products(session, order_in)
    requests, parents = _line_requests(order_in, line_prices)
    ship_to = _ship_to(session, customer, order_in)
    country = order_in.ship_to_country or (ship_to.country if ship_to else None)
    priced = pricing_service.price_order(
        session=session,
        customer=customer,
        products=products,
        lines=requests,
        currency=currency,
        on=utcnow().date(),
        country=country,
        charges=[
            pricing_engine.ChargeInput(c.kind, c.description, c.amount, c.tax_class)
            for c in order_in.charges
        ],
        prices_include_tax=order_in.prices_include_tax,
    )
    return PricedEntry(customer, priced, products, parents, ship_to)


def default_valid_until(today: date, validity_seconds: float) -> date:
    """The validity date of a quote that names none: the settings' validity from today."""
    return today + timedelta(days=max(1, ceil(validity_seconds / 86400)))


def check_entry(order_in: OrderCreate, *, today: date) -> None:
    """The entry terms that need today's date or two fields together; OrderError otherwise."""
    wanted = order_in.requested_delivery_date
    if wanted is not None and not today <= wanted <= today + timedelta(days=MAX_DELIVERY_DAYS):
        raise OrderError(
            f"the requested delivery date must be between today and {MAX_DELIVERY_DAYS} days "
            "from now",
            field="requested_delivery_date",
        )
    valid_until = order_in.quote_valid_until
    if valid_until is not None:
        if not order_in.quote:
            raise OrderError("a validity date is for a quote", field="quote_valid_until")
        if not today <= valid_until <= today + timedelta(days=MAX_QUOTE_DAYS):
            raise OrderError(
                f"a quote is valid from today for at most {MAX_QUOTE_DAYS} days",
                field="quote_valid_until",
            )
    if order_in.ship_to is not None and order_in.ship_to_address_id is not None:
        raise OrderError(
            "give a ship-to address or pick one of the customer's, not both", field="ship_to"
        )
    ship_country = order_in.ship_to.country if order_in.ship_to else None
    if ship_country and order_in.ship_to_country and ship_country != order_in.ship_to_country:
        raise OrderError(
            "ship_to_country differs from the ship-to address's country", field="ship_to"
        )


def _ship_to(session: Session, customer: Customer, order_in: OrderCreate) -> ShipTo | None:
    """Where the order goes: the address given, or the customer's shipping address picked."""
    if order_in.ship_to_address_id is not None:
        address = customer_addresses.get_address(
            session=session, customer_id=customer.id or 0, address_id=order_in.ship_to_address_id
        )
        if address is None or address.retired_at is not None:
            raise OrderError(
                f"address {order_in.ship_to_address_id} is not one of the customer's",
                field="ship_to_address_id",
            )
        if address.kind != AddressKind.SHIPPING:
            raise OrderError("that address is not a shipping address", field="ship_to_address_id")
        return ShipTo.model_validate(address, from_attributes=True)
    return order_in.ship_to


def _apply_ship_to(order: SalesOrder, ship_to: ShipTo | None) -> None:
    """Copy the ship-to address onto the order (a snapshot)."""
    if ship_to is None:
        return
    order.ship_to_name = ship_to.name
    order.ship_to_line1 = ship_to.line1
    order.ship_to_line2 = ship_to.line2
    order.ship_to_city = ship_to.city
    order.ship_to_region = ship_to.region
    order.ship_to_postcode = ship_to.postcode
    order.ship_to_country = ship_to.country


ORDER_FIELDS = (
    "number",
    "channel",
    "customer_id",
    "external_ref",
    "currency",
    "prepaid",
    "warehouse",
    "ship_to_country",
    "prices_include_tax",
    "total",
    "status",
    "customer_po",
    "requested_delivery_date",
    "ship_to_line1",
    "ship_to_city",
    "explicit_quote",
    "quote_valid_until",
    "quote_version",
    "revises",
)


def audit_placed(
    *, session: Session, order: SalesOrder, lines: Sequence[OrderLine], actor: Actor
) -> None:
    """The audit entry of a new order: its terms and lines."""
    after = snapshot(order, ORDER_FIELDS) | {
        "lines": [
            {"sku": ln.sku, "qty": ln.qty, "unit_price": str(ln.unit_price)}
            | ({"drop_ship": True} if ln.drop_ship else {})
            for ln in lines
        ]
    }
    audit(
        session,
        actor=actor,
        action="order.place",
        entity="order",
        entity_id=order.number,
        after=after,
    )


def record(
    *,
    session: Session,
    order: SalesOrder,
    number_prefix: str,
    lines: Sequence[OrderLine],
    parents: Sequence[int | None] = (),
    charges: Sequence[OrderCharge] = (),
) -> SalesOrder:
    """Insert a new order, number it and write its lines: the one place every order is made.

    Callers (`create`, the store import) pass the order with its totals and the unsaved lines
    and charges. The unique (channel, external_ref) constraint settles a race between two
    requests for the same outside order: the later insert fails, and DuplicateExternalRefError
    names the order that won. `parents[i]` is the index of the line that line i is an option of.
    """
    channel, ref, request_key = order.channel, order.external_ref, order.request_key
    try:
        # Added inside the savepoint, so a failed insert leaves nothing pending to autoflush.
        with session.begin_nested():
            session.add(order)
            session.flush()
    except IntegrityError as exc:  # a concurrent request recorded the same reference or key
        existing = get_by_external_ref(session=session, channel=channel, external_ref=ref or "")
        if existing:
            raise DuplicateExternalRefError(existing) from exc
        repeated = get_by_request_key(session=session, request_key=request_key or "")
        if repeated:
            raise DuplicateRequestError(repeated) from exc
        raise
    order.number = f"{number_prefix}-{order.id:06d}"
    _write_lines(session, order, lines, parents, charges)
    outbound_events.order_created(session, order, lines)
    return order


def _checked_products(session: Session, order_in: OrderCreate) -> tuple[dict[str, Product], str]:
    """The ordered products (options included) and their one currency; OrderError otherwise."""
    option_skus = [opt.sku for ln in order_in.lines for opt in ln.options]
    skus = [ln.sku for ln in order_in.lines] + option_skus
    products = inventory_service.get_many(session=session, skus=skus)
    unknown = sorted(set(skus) - set(products))
    if unknown:
        raise OrderError(f"unknown SKU: {', '.join(unknown)}", field="lines")
    _refuse_retired(products.values())
    for line_in in order_in.lines:
        offered = products[line_in.sku].options
        for option in line_in.options:
            if option.sku not in offered:
                raise OrderError(f"{option.sku} is not an option of {line_in.sku}", field="lines")
    if order_in.warehouse:
        try:
            inventory_service.usable_warehouse(session=session, code=order_in.warehouse)
        except inventory_service.UnknownWarehouseError as exc:
            raise OrderError(str(exc), field="warehouse") from exc
    currencies = {products[sku].currency for sku in skus}
    if len(currencies) > 1:
        raise OrderError(f"lines mix currencies: {', '.join(sorted(currencies))}")
    return products, currencies.pop()


def _refuse_retired(products: Iterable[Product]) -> None:
    """OrderError naming the retired products among these (they cannot be ordered)."""
    retired = sorted({p.sku for p in products if p.retired_at is not None})
    if retired:
        raise OrderError(f"retired product cannot be ordered: {', '.join(retired)}", field="lines")


def _line_requests(
    order_in: OrderCreate, line_prices: Sequence[Decimal | None] | None
) -> tuple[list[pricing_service.LineRequest], list[int | None]]:
    """What to price, main lines first, and for each the index of its main line (None: main)."""
    explicit = list(line_prices or [None] * len(order_in.lines))
    if len(explicit) != len(order_in.lines):
        raise OrderError("line_prices must give one entry per line")
    requests = [
        pricing_service.LineRequest(
            sku=line_in.sku,
            qty=line_in.qty,
            explicit_price=price if price is not None else getattr(line_in, "unit_price", None),
        )
        for line_in, price in zip(order_in.lines, explicit, strict=True)
    ]
    # Ordered options become their own priced lines, each linked to its main line.
    parents: list[int | None] = [None] * len(requests)
    for index, line_in in enumerate(order_in.lines):
        for option in line_in.options:
            requests.append(
                pricing_service.LineRequest(sku=option.sku, qty=option.qty or line_in.qty)
            )
            parents.append(index)
    return requests, parents


def _apply_totals(order: SalesOrder, priced: pricing_engine.PricedOrder) -> None:
    """Set the order's totals from its pricing, refusing amounts the money columns cannot hold."""
    amounts = [priced.total, priced.subtotal + priced.charges_total + priced.tax_total]
    amounts += [line.unit_price * line.qty for line in priced.lines]
    if max(amounts) >= MAX_AMOUNT:
        raise OrderError(f"order amounts must stay below {MAX_AMOUNT:,} {priced.currency}")
    order.subtotal = priced.subtotal
    order.discount_total = priced.discount_total
    order.charges_total = priced.charges_total
    order.tax_total = priced.tax_total
    order.total = priced.total


def _priced_rows(
    priced: pricing_engine.PricedOrder, products: dict[str, Product]
) -> tuple[list[OrderLine], list[OrderCharge]]:
    """The priced lines and charges as rows, not yet attached to an order."""
    # The order may not have an id yet: _write_lines sets `order_id`. The pydantic plugin calls it
    # required, but a table model's __init__ does not validate, so it may be set later.
    order_lines = [
        OrderLine(  # type: ignore[call-arg]
            sku=line.sku,
            name=products[line.sku].name,
            qty=line.qty,
            unit_price=line.unit_price,
            line_total=line.line_total,
            list_price=line.list_price,
            discount_amount=line.discount_amount,
            price_rule=line.price_rule,
            tax_class=line.tax_class,
            tax_rate=line.tax_rate,
            tax_amount=line.tax_amount,
        )
        for line in priced.lines
    ]
    order_charges = [
        OrderCharge(  # type: ignore[call-arg]
            kind=charge.kind,
            description=charge.description,
            amount=charge.amount,
            tax_class=charge.tax_class,
            tax_rate=charge.tax_rate,
            tax_amount=charge.tax_amount,
        )
        for charge in priced.charges
    ]
    return order_lines, order_charges


def _set_sources(
    session: Session,
    order_lines: Sequence[OrderLine],
    products: dict[str, Product],
    asked: Sequence[bool],
) -> None:
    """Decide where each line ships from (stock or its supplier); `asked` per main line, in
    order (the options' lines follow them and are never asked). OrderError for a refused ask."""
    wants = list(asked) + [False] * (len(order_lines) - len(asked))
    try:
        sources = sourcing.decide(
            session=session,
            products=products,
            lines=[
                sourcing.LineSource(sku=line.sku, qty=line.qty, asked=ask)
                for line, ask in zip(order_lines, wants, strict=True)
            ],
            on=utcnow().date(),
        )
    except sourcing.DropShipRefusedError as exc:
        raise OrderError(str(exc), field="lines") from exc
    for line, drop_ship in zip(order_lines, sources, strict=True):
        line.drop_ship = drop_ship


def _write_lines(
    session: Session,
    order: SalesOrder,
    order_lines: Sequence[OrderLine],
    parents: Sequence[int | None] = (),
    order_charges: Sequence[OrderCharge] = (),
) -> None:
    """Attach the lines and charges to the stored order and write them with its totals."""
    for line in order_lines:
        line.order_id = order.id or 0
    session.add_all(order_lines)
    if any(parent is not None for parent in parents):
        session.flush()  # the main lines' ids
        for line, parent in zip(order_lines, parents, strict=True):
            if parent is not None:
                line.parent_line_id = order_lines[parent].id
    for charge in order_charges:
        charge.order_id = order.id or 0
    session.add_all(order_charges)
    order.updated_at = utcnow()
    session.add(order)
    session.flush()


def orders_query(
    *,
    status: str | None = None,
    step: str | None = None,
    channel: str | None = None,
    customer_id: int | None = None,
    external_ref: str | None = None,
    q: str | None = None,
    needs_review: bool | None = None,
    opportunity: str | None = None,
    account_rep_id: int | None = None,
) -> SelectOfScalar[SalesOrder]:
    """The orders with the given filters (`account_rep_id`: only the orders of customers that
    rep owns, the sales record rule)."""
    query = select(SalesOrder)
    if account_rep_id is not None:
        owned = select(Customer.id).where(Customer.account_rep_id == account_rep_id)
        query = query.where(col(SalesOrder.customer_id).in_(owned))
    if status:
        query = query.where(SalesOrder.status == status)
    if step:
        query = query.where(SalesOrder.current_step == step)
    if channel:
        query = query.where(SalesOrder.channel == channel)
    if customer_id:
        query = query.where(SalesOrder.customer_id == customer_id)
    if external_ref:
        query = query.where(SalesOrder.external_ref == external_ref)
    if needs_review is not None:
        query = query.where(SalesOrder.needs_review == needs_review)
    if opportunity:
        query = query.where(SalesOrder.opportunity == opportunity)
    if q:
        query = query.where(
            or_(
                contains_text(col(SalesOrder.number), q),
                contains_text(col(SalesOrder.external_ref), q),
            )
        )
    return query


def list_orders_page(
    *,
    session: Session,
    limit: int = 50,
    offset: int = 0,
    after: str | None = None,
    **filters: Any,
) -> Page[SalesOrder]:
    """Orders newest first with the `orders_query` filters: one page (after the cursor `after`,
    else at `offset`), the count (up to COUNT_CAP) and the next page's cursor."""
    query = orders_query(**filters)
    return keyset.page(session, query, NEWEST_FIRST, limit=limit, after=after, offset=offset)


NEWEST_FIRST = KeysetOrder("newest", (Segment((col(SalesOrder.id),), descending=True),))


def list_orders(
    *, session: Session, limit: int = 50, offset: int = 0, **filters: Any
) -> tuple[list[SalesOrder], int]:
    """`list_orders_page` as (rows, count) for the pages that show a customer's orders."""
    found = list_orders_page(session=session, limit=limit, offset=offset, **filters)
    return found.rows, found.count


def account_rep_of(session: Session, customer_id: int) -> int | None:
    """The employee who owns a customer's account (None: nobody, or no such customer)."""
    customer = session.get(Customer, customer_id)
    return customer.account_rep_id if customer else None


def add_event(
    *,
    session: Session,
    key: str,
    order: SalesOrder,
    kind: str,
    message: str = "",
    step: str | None = None,
    actor: str = "system",
) -> OrderEvent:
    """Append to the trail once per `key`."""
    existing = session.exec(select(OrderEvent).where(OrderEvent.key == key)).first()
    if existing:
        return existing
    event = OrderEvent(
        key=key, order_id=row_id(order), step=step, kind=kind, message=message, actor=actor
    )
    session.add(event)
    session.flush()
    return event


def set_state(
    *,
    session: Session,
    order: SalesOrder,
    status: OrderStatus | None = None,
    current_step: str | None = None,
    clear_step: bool = False,
) -> SalesOrder:
    """Move the order to a status and/or step."""
    if status is not None:
        order.status = status
        if status == OrderStatus.COMPLETED:
            order.completed_at = utcnow()
    if current_step is not None or clear_step:
        order.current_step = current_step
    order.updated_at = utcnow()
    session.add(order)
    session.flush()
    return order


def backordered_with_sku(*, session: Session, sku: str) -> list[SalesOrder]:
    """Backordered orders that wait for this SKU."""
    return list(
        session.exec(
            select(SalesOrder)
            .join(OrderLine, col(OrderLine.order_id) == SalesOrder.id)
            .where(SalesOrder.status == OrderStatus.BACKORDERED)
            .where(OrderLine.sku == sku)
            .distinct()
        )
    )


def replace_lines(
    *, session: Session, order: SalesOrder, lines: list[tuple[str, int]]
) -> tuple[str, str]:
    """Re-price the order with new lines; returns (before, after) descriptions for the audit."""
    products = inventory_service.get_many(session=session, skus=[sku for sku, _ in lines])
    unknown = sorted({sku for sku, _ in lines} - set(products))
    if unknown:
        raise OrderError(f"unknown SKU: {', '.join(unknown)}")
    _refuse_retired(products.values())
    currencies = {products[sku].currency for sku, _ in lines}
    if currencies != {order.currency}:
        raise OrderError(f"lines must be in the order's currency {order.currency}")
    old = list(session.exec(select(OrderLine).where(OrderLine.order_id == order.id)))
    # A line already shipped by its supplier stays so; the others are decided again.
    by_supplier = {line.sku for line in old if line.drop_ship}
    before = ", ".join(f"{line.qty} x {line.sku}" for line in old) + f" = {order.total}"
    old_charges = charges(session=session, order_id=row_id(order))
    # The charges the order was placed with stay as they were (taxed again with the lines).
    kept = [
        pricing_engine.ChargeInput(c.kind, c.description, c.amount, c.tax_class)
        for c in old_charges
    ]
    for row in [*old, *old_charges]:
        session.delete(row)
    session.flush()
    customer = session.get(Customer, order.customer_id)
    assert customer is not None
    priced = pricing_service.price_order(
        session=session,
        customer=customer,
        products=products,
        lines=[pricing_service.LineRequest(sku=sku, qty=qty) for sku, qty in lines],
        currency=order.currency,
        on=utcnow().date(),
        country=order.ship_to_country,
        charges=kept,
        prices_include_tax=order.prices_include_tax,
    )
    _apply_totals(order, priced)
    new_lines, new_charges = _priced_rows(priced, products)
    _set_sources(
        session,
        new_lines,
        products,
        [sku in by_supplier and may_drop_ship(products[sku]) for sku, _ in lines],
    )
    _write_lines(session, order, new_lines, order_charges=new_charges)
    after = ", ".join(f"{qty} x {sku}" for sku, qty in lines) + f" = {order.total}"
    return before, after


def sibling_quotes(*, session: Session, order: SalesOrder) -> list[SalesOrder]:
    """Other open quotes of the same customer and opportunity (voided when this one is accepted)."""
    if not order.opportunity:
        return []
    return list(
        session.exec(
            select(SalesOrder)
            .where(SalesOrder.opportunity == order.opportunity)
            .where(SalesOrder.customer_id == order.customer_id)
            .where(SalesOrder.status == OrderStatus.QUOTE)
            .where(SalesOrder.id != order.id)
            .order_by(col(SalesOrder.id))
        )
    )
