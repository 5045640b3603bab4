"""Pricing operations: agreements, tax and shipping rates, and pricing an order from them."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlmodel import Session, col, or_, select

from conveyor.audit.service import Actor, record, snapshot
from conveyor.core.db import page
from conveyor.customer.models import Customer
from conveyor.inventory.models import Product
from conveyor.pricing import engine
from conveyor.pricing.models import (
    PriceAgreement,
    PriceAgreementCreate,
    ShippingRate,
    ShippingRateCreate,
    TaxRate,
    TaxRateCreate,
)
from conveyor.pricing.overlap import check_overlap


@dataclass(frozen=True)
class LineRequest:
    """A line to price: SKU, quantity and, for a store's own price, that price."""

    sku: str
    qty: int
    explicit_price: Decimal | None = None


def create_agreement(
    *, session: Session, agreement_in: PriceAgreementCreate, actor: Actor
) -> PriceAgreement:
    """Record a price agreement (price list entry, trade agreement or order discount); Conflict
    when an alike agreement is in force on any of the same days."""
    check_overlap(session=session, agreement=agreement_in)
    agreement = PriceAgreement.model_validate(agreement_in)
    session.add(agreement)
    session.flush()
    record(
        session,
        actor=actor,
        action="price_agreement.create",
        entity="price_agreement",
        entity_id=agreement.id,
        after=snapshot(agreement),
    )
    return agreement


def list_agreements(
    *,
    session: Session,
    sku: str | None = None,
    customer_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[PriceAgreement], int]:
    """One page of agreements, highest priority first, optionally only those naming a SKU or
    customer; with how many match in all."""
    query = select(PriceAgreement)
    if sku:
        query = query.where(PriceAgreement.sku == sku)
    if customer_id:
        query = query.where(PriceAgreement.customer_id == customer_id)
    order = (col(PriceAgreement.priority).desc(), col(PriceAgreement.id))
    return page(session, query, *order, limit=limit, offset=offset)


def create_tax_rate(*, session: Session, rate_in: TaxRateCreate, actor: Actor) -> TaxRate:
    """Record a tax rate for a tax class and destination country."""
    rate = TaxRate.model_validate(rate_in)
    session.add(rate)
    session.flush()
    record(
        session,
        actor=actor,
        action="tax_rate.create",
        entity="tax_rate",
        entity_id=rate.id,
        after=snapshot(rate),
    )
    return rate


def list_tax_rates(*, session: Session) -> list[TaxRate]:
    """The tax rates in force (not retired)."""
    query = select(TaxRate).where(col(TaxRate.retired_at).is_(None))
    return list(session.exec(query.order_by(col(TaxRate.tax_class), col(TaxRate.id))))


def page_tax_rates(
    *, session: Session, limit: int, offset: int = 0, retired: bool | None = None
) -> tuple[list[TaxRate], int]:
    """One page of tax rates by class (`retired`: only those, or only the others; None: all),
    and how many there are in all."""
    query = select(TaxRate)
    if retired is not None:
        retired_at = col(TaxRate.retired_at)
        query = query.where(retired_at.is_not(None) if retired else retired_at.is_(None))
    order = (col(TaxRate.tax_class), col(TaxRate.id))
    return page(session, query, *order, limit=limit, offset=offset)


def create_shipping_rate(
    *, session: Session, rate_in: ShippingRateCreate, actor: Actor
) -> ShippingRate:
    """Record a shipping rate."""
    rate = ShippingRate.model_validate(rate_in)
    session.add(rate)
    session.flush()
    record(
        session,
        actor=actor,
        action="shipping_rate.create",
        entity="shipping_rate",
        entity_id=rate.id,
        after=snapshot(rate),
    )
    return rate


def list_shipping_rates(*, session: Session) -> list[ShippingRate]:
    """The shipping rates in force (not retired)."""
    query = select(ShippingRate).where(col(ShippingRate.retired_at).is_(None))
    return list(session.exec(query.order_by(col(ShippingRate.id))))


def page_shipping_rates(
    *, session: Session, limit: int, offset: int = 0, retired: bool | None = None
) -> tuple[list[ShippingRate], int]:
    """One page of shipping rates (`retired` as for tax rates), and how many there are."""
    query = select(ShippingRate)
    if retired is not None:
        retired_at = col(ShippingRate.retired_at)
        query = query.where(retired_at.is_not(None) if retired else retired_at.is_(None))
    return page(session, query, col(ShippingRate.id), limit=limit, offset=offset)


def _agreements_for(
    session: Session, customer: Customer, products: Sequence[Product], currency: str
) -> list[engine.Agreement]:
    skus = [p.sku for p in products]
    groups = [p.item_group for p in products if p.item_group]
    rows = session.exec(
        select(PriceAgreement)
        .where(col(PriceAgreement.active).is_(True))
        .where(PriceAgreement.currency == currency)
        .where(
            or_(
                col(PriceAgreement.sku).in_(skus),
                col(PriceAgreement.item_group).in_(groups),
                col(PriceAgreement.sku).is_(None) & col(PriceAgreement.item_group).is_(None),
            )
        )
        .where(
            or_(
                PriceAgreement.customer_id == customer.id,
                PriceAgreement.customer_group == customer.group,
                col(PriceAgreement.customer_id).is_(None)
                & col(PriceAgreement.customer_group).is_(None),
            )
        )
    ).all()
    return [
        engine.Agreement(
            id=row.id or 0,
            name=row.name,
            scope=row.scope,
            priority=row.priority,
            sku=row.sku,
            item_group=row.item_group,
            customer_id=row.customer_id,
            customer_group=row.customer_group,
            min_qty=row.min_qty,
            min_amount=row.min_amount,
            currency=row.currency,
            valid_from=row.valid_from,
            valid_to=row.valid_to,
            unit_price=row.unit_price,
            discount_percent=row.discount_percent,
            discount_amount=row.discount_amount,
            active=row.active,
        )
        for row in rows
    ]


def price_order(
    *,
    session: Session,
    customer: Customer,
    products: dict[str, Product],
    lines: Sequence[LineRequest],
    currency: str,
    on: date,
    country: str | None = None,
    charges: Sequence[engine.ChargeInput] = (),
    prices_include_tax: bool = False,
) -> engine.PricedOrder:
    """Price an order's lines for a customer on a date with the agreements and rates in force."""
    used = [products[ln.sku] for ln in lines]
    tax_rules = [
        engine.TaxRule(tax_class=r.tax_class, country=r.country, rate=r.rate, name=r.name)
        for r in list_tax_rates(session=session)
    ]
    shipping_rules = [
        engine.ShippingRule(
            id=r.id or 0,
            name=r.name,
            amount=r.amount,
            currency=r.currency,
            country=r.country,
            customer_group=r.customer_group,
            free_from=r.free_from,
            tax_class=r.tax_class,
            priority=r.priority,
        )
        for r in list_shipping_rates(session=session)
    ]
    return engine.price_order(
        lines=[
            engine.LineInput(
                sku=ln.sku,
                qty=ln.qty,
                list_price=products[ln.sku].price,
                currency=products[ln.sku].currency,
                item_group=products[ln.sku].item_group,
                tax_class=products[ln.sku].tax_class,
                explicit_price=ln.explicit_price,
            )
            for ln in lines
        ],
        customer=engine.CustomerFacts(
            id=customer.id or 0, group=customer.group, country=customer.country
        ),
        agreements=_agreements_for(session, customer, used, currency),
        on=on,
        currency=currency,
        tax_rules=tax_rules,
        country=country,
        charges=charges,
        shipping_rules=shipping_rules,
        prices_include_tax=prices_include_tax,
    )
