"""What a signed-in customer sees of the products: their own prices and the availability."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import Session, col, or_, select

from conveyor.core.db import contains_text, page
from conveyor.core.models import utcnow
from conveyor.customer.models import Customer
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import Product, keeps_stock
from conveyor.pricing import engine as pricing_engine
from conveyor.pricing import service as pricing_service
from conveyor.shop.models import CartLine

# Below this many units available the catalogue says how many are left.
FEW_LEFT = 10


@dataclass(frozen=True)
class Offer:
    """A product as this customer would buy it: their unit price (and the rule behind it)."""

    product: Product
    unit_price: Decimal
    list_price: Decimal
    price_rule: str
    available: int
    availability: str  # in stock | N available | on backorder


@dataclass(frozen=True)
class CartView:
    """The cart priced as the order would be: lines, options and the order's totals."""

    lines: list[tuple[CartLine, Offer, list[Offer]]]  # line, its product, its options
    priced: pricing_engine.PricedOrder | None


def availability(product: Product) -> tuple[int, str]:
    """Units available now and how the catalogue says it."""
    available = max(product.on_hand - product.committed, 0)
    if not keeps_stock(product) or available >= FEW_LEFT:
        return available, "in stock"
    if available > 0:
        return available, f"{available} available"
    return 0, "on backorder"


def _by_currency(products: Sequence[Product]) -> dict[str, list[Product]]:
    groups: dict[str, list[Product]] = {}
    for product in products:
        groups.setdefault(product.currency, []).append(product)
    return groups


def offers(
    *, session: Session, customer: Customer, products: Sequence[Product], qty: int = 1
) -> list[Offer]:
    """Each product at the unit price this customer pays today for `qty` (their agreements)."""
    unit: dict[str, pricing_engine.PricedLine] = {}
    for currency, group in _by_currency(products).items():
        priced = pricing_service.price_order(
            session=session,
            customer=customer,
            products={p.sku: p for p in group},
            lines=[pricing_service.LineRequest(sku=p.sku, qty=qty) for p in group],
            currency=currency,
            on=utcnow().date(),
        )
        # Unit prices come from the line agreements alone: the order discount, which the
        # whole page's total would trigger, is in line totals only.
        unit.update({line.sku: line for line in priced.lines})
    return [_offer(product, unit[product.sku]) for product in products]


def search(
    *, session: Session, customer: Customer, q: str | None, limit: int, offset: int
) -> tuple[list[Offer], int]:
    """One page of the products on sale (not retired), by name, matching `q` in SKU or name."""
    query = select(Product).where(col(Product.retired_at).is_(None))
    if q:
        query = query.where(or_(contains_text(Product.sku, q), contains_text(Product.name, q)))
    rows, count = page(
        session, query, col(Product.name), col(Product.sku), limit=limit, offset=offset
    )
    return offers(session=session, customer=customer, products=rows), count


def product_offer(
    *, session: Session, customer: Customer, sku: str
) -> tuple[Offer, list[Offer]] | None:
    """A product on sale with its options on sale (both at the customer's prices), or None."""
    product = inventory_service.get_by_sku(session=session, sku=sku)
    if product is None or product.retired_at is not None:
        return None
    options = inventory_service.get_many(session=session, skus=product.options)
    sold = [
        options[o]
        for o in product.options
        if o in options
        and options[o].retired_at is None
        and options[o].currency == product.currency
    ]
    main, *rest = offers(session=session, customer=customer, products=[product, *sold])
    return main, rest


def cart_view(
    *,
    session: Session,
    customer: Customer,
    cart_lines: Sequence[CartLine],
    country: str | None = None,
) -> CartView:
    """The cart's lines at the customer's prices, with the totals the order would get
    (quantity breaks, order discount, shipping and tax to `country`, else the customer's)."""
    skus = [ln.sku for ln in cart_lines] + [o for ln in cart_lines for o in ln.options]
    products = inventory_service.get_many(session=session, skus=skus)
    if not cart_lines:
        return CartView(lines=[], priced=None)
    requests = []
    for line in cart_lines:
        requests.append(pricing_service.LineRequest(sku=line.sku, qty=line.qty))
        requests += [pricing_service.LineRequest(sku=o, qty=line.qty) for o in line.options]
    currency = products[cart_lines[0].sku].currency
    priced = pricing_service.price_order(
        session=session,
        customer=customer,
        products=products,
        lines=requests,
        currency=currency,
        on=utcnow().date(),
        country=country,
    )
    by_position = iter(priced.lines)
    rows = []
    for line in cart_lines:
        main = _offer(products[line.sku], next(by_position))
        chosen = [_offer(products[o], next(by_position)) for o in line.options]
        rows.append((line, main, chosen))
    return CartView(lines=rows, priced=priced)


def _offer(product: Product, line: pricing_engine.PricedLine) -> Offer:
    available, label = availability(product)
    return Offer(
        product=product,
        unit_price=line.unit_price,
        list_price=line.list_price,
        price_rule=line.price_rule,
        available=available,
        availability=label,
    )
