"""Product master data: edit a product (its bins per warehouse included) and retire it, audited.

Products are never deleted: orders, invoices and the stock ledger name them. A retired product
stays readable but cannot be ordered (the order service refuses it); retiring one that open
orders or quotes still hold is refused with their numbers. The caller commits.
"""

from sqlmodel import Session, col, select

from conveyor.audit.service import Actor, changed, record, snapshot
from conveyor.core.errors import Conflict, Invalid
from conveyor.core.models import utcnow
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import Product, ProductUpdate, StockBalance, is_service
from conveyor.order.enums import OrderStatus
from conveyor.order.models import OrderLine, SalesOrder

# Orders that may still move goods or become orders: a product on one cannot be retired.
OPEN_STATUSES = (OrderStatus.QUOTE, OrderStatus.OPEN, OrderStatus.BACKORDERED)
# What a product's audit entries show.
AUDIT_FIELDS = (
    "name",
    "price",
    "tags",
    "item_group",
    "tax_class",
    "drop_ship",
    "drop_ship_allowed",
    "supplier_email",
    "kind",
    "options",
    "retired_at",
)


class ProductRetiredError(Conflict):
    """The product is retired: it is kept for its history but takes no changes."""


def open_orders_with(*, session: Session, sku: str, limit: int = 20) -> list[str]:
    """Numbers of open orders and quotes with a line of this SKU (at most `limit`)."""
    rows = session.exec(
        select(SalesOrder.number)
        .join(OrderLine, col(OrderLine.order_id) == SalesOrder.id)
        .where(OrderLine.sku == sku)
        .where(col(SalesOrder.status).in_([s.value for s in OPEN_STATUSES]))
        .distinct()
        .order_by(col(SalesOrder.number))
        .limit(limit)
    ).all()
    return [number for number in rows if number]


def _checked_options(session: Session, product: Product, options: list[str]) -> None:
    if product.sku in options:
        raise Invalid("a product cannot be an option of itself")
    found = inventory_service.get_many(session=session, skus=options)
    missing = sorted(set(options) - set(found))
    if missing:
        raise Invalid(f"unknown option SKU: {', '.join(missing)}")
    retired = sorted(sku for sku, p in found.items() if p.retired_at is not None)
    if retired:
        raise Invalid(f"retired product cannot be an option: {', '.join(retired)}")


def _set_bins(session: Session, product: Product, bins: dict[str, str]) -> dict[str, str | None]:
    """Set the SKU's bin in each warehouse named (a new, empty balance where it has none);
    returns the bin before of each warehouse whose bin changed (None: it had no balance)."""
    before: dict[str, str | None] = {}
    for code, location in bins.items():
        if inventory_service.get_warehouse(session=session, code=code) is None:
            raise Invalid(f"unknown warehouse {code}")
        balance = session.exec(
            select(StockBalance)
            .where(StockBalance.sku == product.sku)
            .where(StockBalance.warehouse == code)
        ).first()
        if balance is None:
            before[code] = None
            balance = StockBalance(sku=product.sku, warehouse=code, location=location)
        elif balance.location != location:
            before[code] = balance.location
            balance.location = location
        else:
            continue
        session.add(balance)
    return before


def _check_kind_change(session: Session, product: Product) -> None:
    """Goods ↔ service only while no open order holds the product (their workflows planned
    with its kind) and, to a service, while it keeps no stock."""
    holding = open_orders_with(session=session, sku=product.sku)
    if holding:
        raise Conflict(
            f"product {product.sku} is on open orders ({', '.join(holding)}): "
            "its kind changes once they are finished"
        )
    if is_service(product) and (
        product.on_hand or product.committed or product.drop_ship or product.drop_ship_allowed
    ):
        raise Invalid("a service keeps no stock: no on_hand and no drop-ship")


def update(
    *, session: Session, product: Product, product_in: ProductUpdate, actor: Actor
) -> Product:
    """Change the given fields and bins; Invalid for a rule broken (drop-ship needs a supplier)."""
    if product.retired_at is not None:
        raise ProductRetiredError(f"product {product.sku} is retired: it cannot be changed")
    changes = product_in.model_dump(exclude_unset=True)
    bins = changes.pop("bins", None) or {}
    for field in (
        "name",
        "price",
        "tags",
        "tax_class",
        "drop_ship",
        "drop_ship_allowed",
        "kind",
        "options",
    ):
        if field in changes and changes[field] is None:
            raise Invalid(f"{field} cannot be empty")
    if "supplier_email" in changes and changes["supplier_email"]:
        changes["supplier_email"] = changes["supplier_email"].lower()
    if changes.get("options") is not None:
        _checked_options(session, product, changes["options"])
    before = snapshot(product, AUDIT_FIELDS)
    for field, value in changes.items():
        setattr(product, field, value)
    if product.drop_ship and not product.supplier_email:
        raise Invalid("a drop-ship product needs a supplier_email")
    if product.kind != before["kind"]:
        _check_kind_change(session, product)
    session.add(product)
    old_bins = _set_bins(session, product, bins)
    session.flush()
    old, new = changed(before, snapshot(product, AUDIT_FIELDS))
    if old_bins:
        old["bins"], new["bins"] = old_bins, {code: bins[code] for code in old_bins}
    if new:
        record(
            session,
            actor=actor,
            action="product.update",
            entity="product",
            entity_id=product.sku,
            before=old,
            after=new,
        )
    return product


def retire(*, session: Session, product: Product, actor: Actor) -> Product:
    """Retire the product; Conflict naming the open orders or quotes that still hold it."""
    if product.retired_at is not None:
        raise ProductRetiredError(f"product {product.sku} is retired already")
    holding = open_orders_with(session=session, sku=product.sku)
    if holding:
        raise Conflict(
            f"product {product.sku} is on open orders ({', '.join(holding)}): "
            "finish or cancel them first"
        )
    product.retired_at = utcnow()
    session.add(product)
    session.flush()
    record(
        session,
        actor=actor,
        action="product.retire",
        entity="product",
        entity_id=product.sku,
        before={"retired_at": None},
        after={"retired_at": product.retired_at},
    )
    return product
