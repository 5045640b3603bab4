"""Purchase orders: drop-ship ones for an order's lines (confirm shipment, cancel) and stock
ones to a warehouse (create, mark sent, list)."""

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from conveyor.audit.service import Actor, record, snapshot
from conveyor.core.errors import Conflict, Invalid
from conveyor.core.models import round_money, utcnow
from conveyor.inventory import costing
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import is_service
from conveyor.order.models import OrderLine, SalesOrder
from conveyor.purchasing import sourcing
from conveyor.purchasing import suppliers as supplier_service
from conveyor.purchasing.models import (
    PurchaseOrder,
    PurchaseOrderKind,
    PurchaseOrderLine,
    PurchaseOrderLinePublic,
    PurchaseOrderPublic,
    PurchaseOrderStatus,
    StockPurchaseCreate,
    Supplier,
    SupplierQuote,
)


class PurchaseOrderError(Conflict):
    """The purchase order cannot change that way (e.g. it is cancelled)."""


def get_by_number(
    *, session: Session, number: str, for_update: bool = False
) -> PurchaseOrder | None:
    """The purchase order with that number, or None; `for_update`: locked until the commit
    (two confirmations at once: the second waits, then finds it shipped)."""
    query = select(PurchaseOrder).where(PurchaseOrder.number == number)
    return session.exec(query.with_for_update() if for_update else query).first()


def list_for_order(*, session: Session, order_id: int) -> list[PurchaseOrder]:
    """The order's purchase orders, oldest first."""
    return list(
        session.exec(
            select(PurchaseOrder)
            .where(PurchaseOrder.order_id == order_id)
            .order_by(col(PurchaseOrder.id))
        )
    )


def lines(*, session: Session, purchase_order_id: int) -> list[PurchaseOrderLine]:
    """What the purchase order asks the supplier to ship."""
    return list(
        session.exec(
            select(PurchaseOrderLine)
            .where(PurchaseOrderLine.purchase_order_id == purchase_order_id)
            .order_by(col(PurchaseOrderLine.id))
        )
    )


def drop_ship_lines(*, session: Session, order_id: int) -> list[OrderLine]:
    """The order's lines its suppliers ship directly (their source, set when it was placed)."""
    return list(
        session.exec(
            select(OrderLine)
            .where(OrderLine.order_id == order_id)
            .where(col(OrderLine.drop_ship).is_(True))
            .order_by(col(OrderLine.id))
        )
    )


def create_for_order(*, session: Session, key: str, order: SalesOrder) -> list[PurchaseOrder]:
    """One purchase order per supplier for the order's drop-ship lines (once per `key`)."""
    existing = list_for_order(session=session, order_id=order.id or 0)
    if existing:
        return existing
    goods = drop_ship_lines(session=session, order_id=order.id or 0)
    products = inventory_service.get_many(session=session, skus=[ln.sku for ln in goods])
    on = utcnow().date()
    by_supplier: dict[str, list[tuple[OrderLine, SupplierQuote | None]]] = defaultdict(list)
    known: dict[str, Supplier | None] = {}
    for line in goods:
        product = products[line.sku]
        ships = sourcing.shipper(session=session, product=product, qty=line.qty, on=on)
        email = ships.email if ships else product.supplier_email or ""
        known[email] = ships.supplier if ships else None
        by_supplier[email].append((line, ships.quote if ships else None))
    created = []
    for supplier, supplier_lines in sorted(by_supplier.items()):
        # The supplier's record when the address is one (for its lists and its currency).
        record_of = known[supplier] or supplier_service.get_by_email(
            session=session, email=supplier
        )
        purchase = PurchaseOrder(
            key=f"{key}:{supplier}",
            order_id=order.id or 0,
            order_number=order.number or "",
            supplier_email=supplier,
            supplier_id=record_of.id if record_of else None,
            currency=record_of.currency if record_of else "USD",
        )
        session.add(purchase)
        session.flush()
        purchase.number = f"PO-{purchase.id:06d}"
        for line, quote in supplier_lines:
            # A line sent to the supplier its price list named is priced from that list.
            session.add(
                PurchaseOrderLine(
                    purchase_order_id=purchase.id or 0,
                    sku=line.sku,
                    name=line.name,
                    qty=line.qty,
                    unit_price=costing.round_cost(quote.net_price) if quote else None,
                    discount_percent=quote.discount_percent if quote else Decimal("0"),
                )
            )
        created.append(purchase)
    session.flush()
    return created


def mark_shipped(
    *,
    session: Session,
    purchase: PurchaseOrder,
    tracking: str | None,
    actor: Actor,
    carrier: str | None = None,
    shipped_at: datetime | None = None,
) -> PurchaseOrder:
    """The supplier shipped it (`shipped_at`, default now); confirming twice changes nothing."""
    if purchase.status == PurchaseOrderStatus.CANCELLED:
        raise PurchaseOrderError(f"{purchase.number} is cancelled")
    if purchase.status == PurchaseOrderStatus.OPEN:
        purchase.status = PurchaseOrderStatus.SHIPPED
        purchase.shipped_at = shipped_at or utcnow()
        purchase.tracking = tracking
        session.add(purchase)
        session.flush()
        record(
            session,
            actor=actor,
            action="purchase_order.shipped",
            entity="purchase_order",
            entity_id=purchase.number,
            before={"status": PurchaseOrderStatus.OPEN},
            after={
                "status": purchase.status,
                "tracking": tracking,
                "carrier": carrier,
                "shipped_at": purchase.shipped_at,
            },
        )
    return purchase


def cancel_open(*, session: Session, order_id: int) -> list[PurchaseOrder]:
    """Cancel the order's purchase orders the supplier has not shipped (compensation)."""
    cancelled = []
    for purchase in list_for_order(session=session, order_id=order_id):
        if purchase.status == PurchaseOrderStatus.OPEN:
            purchase.status = PurchaseOrderStatus.CANCELLED
            session.add(purchase)
            cancelled.append(purchase)
    session.flush()
    return cancelled


def open_count(*, session: Session, order_id: int) -> int:
    """How many of the order's purchase orders still wait for the supplier."""
    return sum(
        1
        for purchase in list_for_order(session=session, order_id=order_id)
        if purchase.status == PurchaseOrderStatus.OPEN
    )


def line_net(line: PurchaseOrderLine) -> Decimal:
    """A stock line's net amount (quantity x net unit price), in cents."""
    return round_money(Decimal(line.qty) * (line.unit_price or Decimal(0)))


def to_public(*, session: Session, purchase: PurchaseOrder) -> PurchaseOrderPublic:
    """The purchase order with its lines (and, for stock, its totals), as the API shows it."""
    found = lines(session=session, purchase_order_id=purchase.id or 0)
    supplier = session.get(Supplier, purchase.supplier_id) if purchase.supplier_id else None
    net_total = tax_total = None
    if purchase.kind == PurchaseOrderKind.STOCK:
        net_total = sum((line_net(ln) for ln in found), Decimal("0.00"))
        tax_total = sum(
            (round_money(line_net(ln) * ln.tax_rate / 100) for ln in found), Decimal("0.00")
        )
    return PurchaseOrderPublic(
        **purchase.model_dump(exclude={"id", "key", "order_id", "supplier_id"}),
        supplier=supplier.code if supplier else None,
        lines=[PurchaseOrderLinePublic.model_validate(line) for line in found],
        net_total=net_total,
        tax_total=tax_total,
    )


# ---- stock purchase orders --------------------------------------------------------------------


def create_stock(
    *,
    session: Session,
    key: str,
    purchase_in: StockPurchaseCreate,
    default_warehouse: str,
    actor: Actor,
    today: date | None = None,
) -> PurchaseOrder:
    """A purchase order for stock (once per `key`): prices from the supplier's price list
    unless given, in the supplier's currency (which must be the products' own: there are no
    exchange rates), delivered to a warehouse in use."""
    existing = session.exec(select(PurchaseOrder).where(PurchaseOrder.key == key)).first()
    if existing is not None:
        return existing
    supplier = supplier_service.required(session=session, code=purchase_in.supplier)
    code = purchase_in.warehouse or default_warehouse
    try:
        warehouse = (
            inventory_service.ensure_warehouse(session=session, code=code)
            if code == default_warehouse
            else inventory_service.usable_warehouse(session=session, code=code)
        )
    except inventory_service.UnknownWarehouseError as exc:
        raise Invalid(str(exc)) from exc
    on = today or utcnow().date()
    expected = purchase_in.expected_date or on + timedelta(days=supplier.lead_time_days)
    products = inventory_service.get_many(
        session=session, skus=[ln.sku for ln in purchase_in.lines]
    )
    new_lines = []
    for line_in in purchase_in.lines:
        product = products.get(line_in.sku)
        if product is None:
            raise Invalid(f"unknown SKU {line_in.sku}")
        if product.drop_ship:
            raise Invalid(f"{line_in.sku} is drop-shipped: it is not kept in stock")
        if is_service(product):
            raise Invalid(f"{line_in.sku} is a service: it is not kept in stock")
        if product.currency != supplier.currency:
            raise Invalid(
                f"{supplier.code} sells in {supplier.currency}, {line_in.sku} is kept in "
                f"{product.currency}: purchase orders are not converted between currencies"
            )
        unit_price, discount = line_in.unit_price, line_in.discount_percent
        if unit_price is None:
            quote = supplier_service.quote_for(
                session=session, sku=line_in.sku, qty=line_in.qty, on=on, supplier=supplier
            )
            if quote is None:
                raise supplier_service.NoSupplierPriceError(
                    f"{supplier.code} has no price for {line_in.qty} x {line_in.sku}: "
                    "give the unit price"
                )
            unit_price = quote.unit_price
            discount = quote.discount_percent if discount is None else discount
        discount = discount or Decimal("0")
        new_lines.append(
            PurchaseOrderLine(
                purchase_order_id=0,
                sku=line_in.sku,
                name=product.name,
                qty=line_in.qty,
                unit_price=costing.round_cost(unit_price * (Decimal(100) - discount) / 100),
                discount_percent=discount,
                tax_rate=line_in.tax_rate,
                expected_date=line_in.expected_date or expected,
            )
        )
    purchase = PurchaseOrder(
        key=key,
        kind=PurchaseOrderKind.STOCK,
        supplier_id=supplier.id,
        supplier_email=supplier.email,
        warehouse=warehouse,
        currency=supplier.currency,
        expected_date=expected,
    )
    try:
        with session.begin_nested():
            session.add(purchase)
            session.flush()
    except IntegrityError:  # the same key, concurrently
        found = session.exec(select(PurchaseOrder).where(PurchaseOrder.key == key)).first()
        if found is None:
            raise
        return found
    purchase.number = f"PO-{purchase.id:06d}"
    for line in new_lines:
        line.purchase_order_id = purchase.id or 0
        session.add(line)
    session.add(purchase)
    session.flush()
    record(
        session,
        actor=actor,
        action="purchase_order.create",
        entity="purchase_order",
        entity_id=purchase.number,
        after={
            **snapshot(purchase, ["kind", "supplier_email", "warehouse", "currency"]),
            "supplier": supplier.code,
            "expected_date": expected,
            "lines": [snapshot(ln, ["sku", "qty", "unit_price", "tax_rate"]) for ln in new_lines],
        },
    )
    return purchase


def mark_sent(*, session: Session, purchase: PurchaseOrder, actor: Actor) -> bool:
    """Note that the purchase order went to the supplier; True the first time (a second send
    is a resend: mailed again, noted in the audit log)."""
    if purchase.status == PurchaseOrderStatus.CANCELLED:
        raise PurchaseOrderError(f"{purchase.number} is cancelled")
    first = purchase.sent_at is None
    if first:
        purchase.sent_at = utcnow()
        session.add(purchase)
        session.flush()
    record(
        session,
        actor=actor,
        action="purchase_order.send",
        entity="purchase_order",
        entity_id=purchase.number,
        after={"to": purchase.supplier_email, "sent_at": purchase.sent_at, "resend": not first},
    )
    return first


def list_purchase_orders(
    *,
    session: Session,
    kind: str | None = None,
    status: str | None = None,
    supplier_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[PurchaseOrder], int]:
    """Purchase orders, newest first, with how many match."""
    query = select(PurchaseOrder)
    if kind:
        query = query.where(PurchaseOrder.kind == kind)
    if status:
        query = query.where(PurchaseOrder.status == status)
    if supplier_id is not None:
        query = query.where(PurchaseOrder.supplier_id == supplier_id)
    count = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(PurchaseOrder.id).desc()).limit(limit).offset(offset))
    return list(rows), int(count)
