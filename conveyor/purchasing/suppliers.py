"""Suppliers and their prices: master data, quantity breaks, and whom to buy a quantity from."""

from datetime import date
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from conveyor.audit.service import Actor, changed, record, snapshot
from conveyor.core.errors import Conflict, Invalid, NotFound
from conveyor.core.patch import merged
from conveyor.inventory import costing
from conveyor.inventory import service as inventory_service
from conveyor.purchasing import agreements, group_discounts
from conveyor.purchasing.models import (
    Supplier,
    SupplierCreate,
    SupplierPrice,
    SupplierPriceCreate,
    SupplierPricePublic,
    SupplierQuote,
    SupplierUpdate,
)


class SupplierNotFoundError(NotFound):
    """No supplier has that code."""


class SupplierExistsError(Conflict):
    """A supplier with that code already exists."""


class NoSupplierPriceError(Invalid):
    """No supplier quotes a price for the SKU and quantity."""


def get_by_code(*, session: Session, code: str) -> Supplier | None:
    """The supplier with that code, or None."""
    return session.exec(select(Supplier).where(Supplier.code == code.upper())).first()


def get_by_email(*, session: Session, email: str) -> Supplier | None:
    """The supplier with that e-mail address (the drop-ship products name theirs), or None."""
    return session.exec(
        select(Supplier).where(Supplier.email == email).order_by(col(Supplier.id))
    ).first()


def required(*, session: Session, code: str) -> Supplier:
    """The supplier with that code; SupplierNotFoundError when there is none."""
    supplier = get_by_code(session=session, code=code)
    if supplier is None:
        raise SupplierNotFoundError(f"unknown supplier {code}")
    return supplier


def list_all(*, session: Session) -> list[Supplier]:
    """Every supplier, by code."""
    return list(session.exec(select(Supplier).order_by(col(Supplier.code))))


def create(*, session: Session, supplier_in: SupplierCreate, actor: Actor) -> Supplier:
    """Add a supplier."""
    if get_by_code(session=session, code=supplier_in.code):
        raise SupplierExistsError(f"a supplier with code {supplier_in.code} already exists")
    supplier = Supplier.model_validate(supplier_in)
    try:
        with session.begin_nested():
            session.add(supplier)
            session.flush()
    except IntegrityError as exc:  # created concurrently
        raise SupplierExistsError(
            f"a supplier with code {supplier_in.code} already exists"
        ) from exc
    record(
        session,
        actor=actor,
        action="supplier.create",
        entity="supplier",
        entity_id=supplier.code,
        after=snapshot(supplier),
    )
    return supplier


def update(
    *, session: Session, supplier: Supplier, changes: SupplierUpdate, actor: Actor
) -> Supplier:
    """Change a supplier's contacts, address, terms, currency or lead time (the code stays)."""
    before = snapshot(supplier)
    result = merged(SupplierCreate, before, changes.model_dump(exclude_unset=True))
    supplier.sqlmodel_update(result.model_dump(exclude={"code"}))
    session.add(supplier)
    session.flush()
    old, new = changed(before, snapshot(supplier))
    record(
        session,
        actor=actor,
        action="supplier.update",
        entity="supplier",
        entity_id=supplier.code,
        before=old,
        after=new,
    )
    return supplier


# ---- prices -----------------------------------------------------------------------------------


def _net(unit_price: Decimal, discount: Decimal) -> Decimal:
    """The unit price less the discount, to four decimals (half-up)."""
    return costing.round_cost(unit_price * (Decimal(100) - discount) / 100)


def net_price(price: SupplierPrice) -> Decimal:
    """The unit price after the price's own discount, to four decimals (half-up)."""
    return _net(price.unit_price, price.discount_percent)


def price_public(price: SupplierPrice, supplier: Supplier) -> SupplierPricePublic:
    """A price as the API shows it, with its supplier's code and net price."""
    return SupplierPricePublic(
        **price.model_dump(exclude={"supplier_id", "created_at"}),
        supplier=supplier.code,
        net_price=net_price(price),
    )


def prices(
    *, session: Session, supplier_id: int | None = None, sku: str | None = None
) -> list[SupplierPrice]:
    """Prices of a supplier and/or a SKU, by SKU, quantity break and start date."""
    query = select(SupplierPrice)
    if supplier_id is not None:
        query = query.where(SupplierPrice.supplier_id == supplier_id)
    if sku is not None:
        query = query.where(SupplierPrice.sku == sku)
    return list(
        session.exec(
            query.order_by(
                col(SupplierPrice.sku), col(SupplierPrice.min_qty), col(SupplierPrice.valid_from)
            )
        )
    )


def add_price(
    *, session: Session, supplier: Supplier, price_in: SupplierPriceCreate, actor: Actor
) -> SupplierPrice:
    """Add a price (a quantity break from a date) for one of the supplier's items."""
    if inventory_service.get_by_sku(session=session, sku=price_in.sku) is None:
        raise Invalid(f"unknown SKU {price_in.sku}")
    taken = Conflict(
        f"{supplier.code} already has a price for {price_in.sku} from {price_in.min_qty} "
        f"starting {price_in.valid_from or 'at once'}"
    )
    price = SupplierPrice.model_validate(price_in, update={"supplier_id": supplier.id})
    agreements.add_row(
        session=session,
        supplier=supplier,
        row=price,
        alike=select(SupplierPrice.id)
        .where(SupplierPrice.supplier_id == supplier.id)
        .where(SupplierPrice.sku == price_in.sku)
        .where(SupplierPrice.min_qty == price_in.min_qty)
        .where(agreements.same_start(SupplierPrice.valid_from, price_in.valid_from)),
        taken=taken,
        action="supplier.price_add",
        actor=actor,
    )
    return price


def delete_price(*, session: Session, supplier: Supplier, price_id: int, actor: Actor) -> None:
    """Remove one of the supplier's prices."""
    agreements.delete_row(
        session=session,
        supplier=supplier,
        model=SupplierPrice,
        row_id=price_id,
        what="price",
        action="supplier.price_delete",
        actor=actor,
    )


def _applicable(session: Session, sku: str, qty: int, on: date) -> list[SupplierPrice]:
    """Per supplier, its price for `qty` of the SKU on `on`: the highest quantity break not above
    `qty`, the latest start among those."""
    rows = session.exec(
        select(SupplierPrice)
        .where(SupplierPrice.sku == sku)
        .where(SupplierPrice.min_qty <= qty)
        .where(or_(col(SupplierPrice.valid_from).is_(None), col(SupplierPrice.valid_from) <= on))
        .where(or_(col(SupplierPrice.valid_to).is_(None), col(SupplierPrice.valid_to) >= on))
    ).all()
    best: dict[int, SupplierPrice] = {}
    for row in rows:
        current = best.get(row.supplier_id)
        if current is None or (row.min_qty, row.valid_from or date.min) > (
            current.min_qty,
            current.valid_from or date.min,
        ):
            best[row.supplier_id] = row
    return list(best.values())


def effective_discount(
    price: SupplierPrice, group_discounts: dict[int, Decimal]
) -> tuple[Decimal, str]:
    """The discount on a SKU price and where it comes from: the price's own when it has one
    (it wins), else the supplier's discount on the SKU's item group, else none."""
    if price.discount_percent > 0:
        return price.discount_percent, "price"
    group = group_discounts.get(price.supplier_id)
    if group is not None:
        return group, "item_group"
    return price.discount_percent, "price"


def quote_for(
    *, session: Session, sku: str, qty: int, on: date, supplier: Supplier | None = None
) -> SupplierQuote | None:
    """Whom to buy `qty` of the SKU from on `on`, and at what net price (the SKU's list price
    less its own discount, else less the supplier's discount on the SKU's item group): a
    preferred supplier that quotes for the quantity, else the cheapest net price (ties: shorter
    lead time, then code). With `supplier`: that supplier's price only. None when nobody
    quotes."""
    product = inventory_service.get_by_sku(session=session, sku=sku)
    by_group = group_discounts.applicable(session, product.item_group if product else None, qty, on)
    candidates: list[tuple[SupplierPrice, Supplier, Decimal, str]] = []
    for price in _applicable(session, sku, qty, on):
        seller = session.get(Supplier, price.supplier_id)
        if seller is not None and (supplier is None or seller.id == supplier.id):
            candidates.append((price, seller, *effective_discount(price, by_group)))
    if not candidates:
        return None
    price, seller, discount, source = min(
        candidates,
        key=lambda c: (
            not c[0].preferred,
            _net(c[0].unit_price, c[2]),
            c[1].lead_time_days,
            c[1].code,
        ),
    )
    return SupplierQuote(
        sku=sku,
        qty=qty,
        supplier=seller.code,
        supplier_name=seller.name,
        unit_price=price.unit_price,
        discount_percent=discount,
        discount_source=source,
        net_price=_net(price.unit_price, discount),
        currency=seller.currency,
        lead_time_days=seller.lead_time_days,
        preferred=price.preferred,
    )
