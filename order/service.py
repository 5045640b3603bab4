"""Order operations: capture, look-up, listing, state and trail."""

from decimal import Decimal

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from core.models import round_money, utcnow
from customer.models import Customer
from inventory import service as inventory_service
from order.enums import OrderStatus
from order.models import OrderCreate, OrderEvent, OrderLine, SalesOrder


class OrderError(Exception):
    """An order request that breaks a rule (unknown SKU, unknown customer)."""


class DuplicateExternalRefError(Exception):
    """An order with that channel and external reference exists already."""

    def __init__(self, order: SalesOrder) -> None:
        super().__init__(f"order {order.number} already has this external reference")
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


def lines(*, session: Session, order_id: int) -> list[OrderLine]:
    """The order's lines in entry order."""
    return list(
        session.exec(select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.id))
    )


def events(*, session: Session, order_id: int) -> list[OrderEvent]:
    """The order's processing trail, oldest first."""
    return list(
        session.exec(
            select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
        )
    )


def create(
    *, session: Session, order_in: OrderCreate, created_by: str, number_prefix: str = "SO"
) -> SalesOrder:
    """Price and record a new order with a fresh human-readable number.

    Raises OrderError for an unknown customer or SKU, DuplicateExternalRefError when the channel
    already sent this external reference.
    """
    if session.get(Customer, order_in.customer_id) is None:
        raise OrderError(f"unknown customer {order_in.customer_id}")
    if order_in.external_ref:
        existing = get_by_external_ref(
            session=session, channel=order_in.channel, external_ref=order_in.external_ref
        )
        if existing:
            raise DuplicateExternalRefError(existing)
    products = inventory_service.get_many(session=session, skus=[ln.sku for ln in order_in.lines])
    unknown = sorted({ln.sku for ln in order_in.lines} - set(products))
    if unknown:
        raise OrderError(f"unknown SKU: {', '.join(unknown)}")
    currencies = {products[ln.sku].currency for ln in order_in.lines}
    if len(currencies) > 1:
        raise OrderError(f"lines mix currencies: {', '.join(sorted(currencies))}")
    order = SalesOrder(
        channel=order_in.channel,
        customer_id=order_in.customer_id,
        external_ref=order_in.external_ref,
        currency=currencies.pop(),
        prepaid=order_in.prepaid,
        created_by=created_by,
    )
    session.add(order)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:  # a concurrent request recorded the same external reference
        existing = get_by_external_ref(
            session=session, channel=order_in.channel, external_ref=order_in.external_ref or ""
        )
        if existing:
            raise DuplicateExternalRefError(existing) from exc
        raise
    order.number = f"{number_prefix}-{order.id:06d}"
    subtotal = Decimal("0.00")
    for line_in in order_in.lines:
        product = products[line_in.sku]
        line_total = round_money(product.price * line_in.qty)
        subtotal += line_total
        session.add(
            OrderLine(
                order_id=order.id,
                sku=product.sku,
                name=product.name,
                qty=line_in.qty,
                unit_price=product.price,
                line_total=line_total,
            )
        )
    order.subtotal = order.total = round_money(subtotal)
    session.add(order)
    session.flush()
    return order


def list_orders(
    *,
    session: Session,
    status: str | None = None,
    step: str | None = None,
    channel: str | None = None,
    customer_id: int | None = None,
    external_ref: str | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[SalesOrder], int]:
    """Orders newest first with the given filters; returns a page and the total count."""
    query = select(SalesOrder)
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
    if q:
        pattern = f"%{q}%"
        query = query.where(
            or_(col(SalesOrder.number).ilike(pattern), col(SalesOrder.external_ref).ilike(pattern))
        )
    count = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(SalesOrder.id).desc()).offset(offset).limit(limit)).all()
    return list(rows), count


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
        key=key, order_id=order.id, step=step, kind=kind, message=message, actor=actor
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
    currencies = {products[sku].currency for sku, _ in lines}
    if currencies != {order.currency}:
        raise OrderError(f"lines must be in the order's currency {order.currency}")
    old = list(session.exec(select(OrderLine).where(OrderLine.order_id == order.id)))
    before = ", ".join(f"{line.qty} x {line.sku}" for line in old) + f" = {order.total}"
    for line in old:
        session.delete(line)
    subtotal = Decimal("0.00")
    for sku, qty in lines:
        product = products[sku]
        line_total = round_money(product.price * qty)
        subtotal += line_total
        session.add(
            OrderLine(
                order_id=order.id,
                sku=sku,
                name=product.name,
                qty=qty,
                unit_price=product.price,
                line_total=line_total,
            )
        )
    order.subtotal = order.total = round_money(subtotal)
    order.updated_at = utcnow()
    session.add(order)
    session.flush()
    after = ", ".join(f"{qty} x {sku}" for sku, qty in lines) + f" = {order.total}"
    return before, after
