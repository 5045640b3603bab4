"""What the routing rules see of an order (or of an order not yet placed)."""

from decimal import Decimal

from sqlmodel import Session

from conveyor.core.models import round_money
from conveyor.customer.models import Customer
from conveyor.inventory import service as inventory_service
from routing_rules.models import OrderFacts


def facts_for(
    *,
    session: Session,
    channel: str,
    customer_id: int | None,
    lines: list[tuple[str, int]],
    total: Decimal | None = None,
    drop_ship: bool | None = None,
) -> OrderFacts:
    """The facts the rules match on: channel, customer group and country, total, product tags."""
    customer = session.get(Customer, customer_id) if customer_id else None
    products = inventory_service.get_many(session=session, skus=[sku for sku, _ in lines])
    if total is None:
        total = round_money(
            sum((products[sku].price * qty for sku, qty in lines if sku in products), Decimal(0))
        )
    currencies = {p.currency for p in products.values()}
    return OrderFacts(
        channel=channel,
        customer_group=customer.group if customer else "retail",
        country=customer.country if customer else "US",
        total=total,
        currency=currencies.pop() if len(currencies) == 1 else "USD",
        tags=frozenset(tag for p in products.values() for tag in p.tags),
        # A placed order's lines know their source; an order not yet placed goes by its
        # products (those always shipped by their supplier).
        has_drop_ship=(
            any(p.drop_ship for p in products.values()) if drop_ship is None else drop_ship
        ),
    )
