"""Counter sales: priced like any order, placed through the order service, paid at once.

A sale is an order of channel `pos`, prepaid: its payment (cash or card) is recorded in the
transaction that records the order, so the workflow finds it paid at collection; the default
routing rules run every step by itself and skip delivery. Cash goes into the seller's open
drawer session; a counter return pays its refund out of it.
"""

from collections import defaultdict
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from conveyor.audit.service import Actor, record
from conveyor.core.errors import Conflict, Invalid, NotFound
from conveyor.core.models import round_money
from conveyor.customer import service as customer_service
from conveyor.customer.models import Customer, CustomerCreate
from conveyor.inventory import service as inventory_service
from conveyor.invoice import service as invoice_service
from conveyor.order import service as order_service
from conveyor.order.enums import Channel
from conveyor.order.models import OrderChargeCreate, OrderCreate, OrderLineCreate, SalesOrder
from conveyor.pos import drawer as drawer_service
from conveyor.pos.models import (
    CashDrawer,
    CashMovement,
    CounterSale,
    MovementKind,
    SaleCreate,
    Tender,
)
from conveyor.returns.models import ReturnAuthorisation

# The customer of a sale that names none: created the first time a counter sells.
WALK_IN_EMAIL = "walk-in@counter.example"
WALK_IN_NAME = "Walk-in customer"
# A counter sale is handed over: no shipping rate applies.
NO_SHIPPING = OrderChargeCreate(
    kind="shipping", description="handed over at the counter", amount=Decimal("0.00")
)


def walk_in_customer(*, session: Session, actor: Actor) -> Customer:
    """The walk-in customer (created and audited the first time it is needed)."""
    found = customer_service.get_by_email(session=session, email=WALK_IN_EMAIL)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            return customer_service.create(
                session=session,
                customer_in=CustomerCreate(name=WALK_IN_NAME, email=WALK_IN_EMAIL),
                actor=actor,
            )
    except (customer_service.CustomerExistsError, IntegrityError):  # created meanwhile
        found = customer_service.get_by_email(session=session, email=WALK_IN_EMAIL)
        assert found is not None
        return found


def get_sale(*, session: Session, order_number: str) -> CounterSale | None:
    """How the counter sale with that order number was paid, or None (no counter sale)."""
    return session.exec(select(CounterSale).where(CounterSale.order_number == order_number)).first()


def order_request(sale_in: SaleCreate, customer_id: int) -> OrderCreate:
    """The sale as the order service takes it: channel pos, prepaid, no shipping."""
    return OrderCreate(
        customer_id=customer_id,
        channel=Channel.POS,
        lines=[OrderLineCreate(sku=line.sku, qty=line.qty) for line in sale_in.lines],
        prepaid=True,
        charges=[NO_SHIPPING],
    )


def check_stock(*, session: Session, sale_in: SaleCreate) -> None:
    """Invalid unless every SKU is a stocked product with enough available to hand over now."""
    wanted: dict[str, int] = defaultdict(int)
    for line in sale_in.lines:
        wanted[line.sku] += line.qty
    products = inventory_service.get_many(session=session, skus=list(wanted))
    unknown = sorted(set(wanted) - set(products))
    if unknown:
        raise Invalid(f"unknown SKU: {', '.join(unknown)}")
    for sku, qty in wanted.items():
        product = products[sku]
        if product.drop_ship:
            raise Invalid(f"{sku} ships from the supplier: it cannot be sold at the counter")
        available = product.on_hand - product.committed
        if qty > available:
            raise Invalid(
                f"only {max(available, 0)} x {sku} available: a counter sale hands the goods "
                "over at once"
            )


def record_sale(
    *,
    session: Session,
    sale_in: SaleCreate,
    employee_id: int | None,
    actor: Actor,
    number_prefix: str,
    request_key: str | None = None,
) -> tuple[SalesOrder, CounterSale]:
    """Record the order, its payment and (cash) the drawer's takings in one transaction.

    A repeated `request_key` answers the sale it recorded before. Refused: cash without an
    open drawer session (NoOpenDrawerError), too little cash handed over, a SKU not in stock.
    """
    if request_key and (
        done := order_service.get_by_request_key(session=session, request_key=request_key)
    ):
        sale = get_sale(session=session, order_number=done.number or "")
        if sale is not None:
            return done, sale
    drawer: CashDrawer | None = None
    if employee_id is not None:
        drawer = drawer_service.open_of(session=session, employee_id=employee_id, lock=True)
    if sale_in.tender == Tender.CASH and drawer is None:
        if employee_id is None:
            raise Conflict("the admin token has no cash drawer: sell cash as an employee")
        drawer_service.require_open(session=session, employee_id=employee_id)
    customer_id = sale_in.customer_id or walk_in_customer(session=session, actor=actor).id or 0
    check_stock(session=session, sale_in=sale_in)
    order = order_service.create(
        session=session,
        order_in=order_request(sale_in, customer_id),
        created_by=actor.name,
        actor=actor,
        number_prefix=number_prefix,
        request_key=request_key,
    )
    number = order.number or ""
    total = order.total
    tendered, change = total, Decimal("0.00")
    if sale_in.tender == Tender.CASH:
        assert drawer is not None
        if drawer.currency != order.currency:
            raise Invalid(f"the drawer holds {drawer.currency}; this sale is in {order.currency}")
        tendered = round_money(sale_in.tendered if sale_in.tendered is not None else total)
        if tendered < total:
            raise Invalid(f"{tendered} {order.currency} handed over: the total is {total}")
        change = tendered - total
    invoice_service.record_payment(
        session=session,
        key=f"pos:{number}:payment",
        order=order,
        amount=total,
        method=sale_in.tender,
        reference=sale_in.reference or (f"drawer {drawer.id}" if drawer else None),
        actor=actor,
    )
    if sale_in.tender == Tender.CASH and drawer is not None:
        drawer_service.move_cash(
            session=session,
            drawer=drawer,
            key=f"pos:{number}:cash",
            kind=MovementKind.SALE,
            amount=total,
            order_number=number,
            actor=actor,
        )
    sale = CounterSale(
        order_id=order.id or 0,
        order_number=number,
        drawer_id=drawer.id if drawer else None,
        tender=sale_in.tender,
        amount=total,
        tendered=tendered,
        change=change,
        reference=sale_in.reference,
        sold_by=actor.name,
    )
    session.add(sale)
    session.flush()
    record(
        session,
        actor=actor,
        action="pos.sale",
        entity="order",
        entity_id=number,
        after={
            "tender": sale.tender,
            "amount": str(sale.amount),
            "tendered": str(sale.tendered),
            "change": str(sale.change),
            "drawer_id": sale.drawer_id,
        },
    )
    return order, sale


def counter_order(*, session: Session, order_number: str) -> tuple[SalesOrder, CounterSale]:
    """The counter sale's order and payment; NotFound for an order that is no counter sale."""
    order = order_service.get_by_number(session=session, number=order_number)
    sale = get_sale(session=session, order_number=order_number) if order else None
    if order is None or sale is None:
        raise NotFound(f"no counter sale {order_number}")
    return order, sale


def check_refund_drawer(*, session: Session, sale: CounterSale, employee_id: int | None) -> None:
    """A return of a cash sale pays out of the refunding employee's open drawer: refused
    without one (before anything is recorded)."""
    if sale.tender != Tender.CASH:
        return
    if employee_id is None:
        raise Conflict("the admin token has no cash drawer: refund cash as an employee")
    drawer_service.require_open(session=session, employee_id=employee_id)


def cash_paid_out(*, session: Session, key: str) -> bool:
    """Whether the counter return requested with `key` has had its cash paid out already (a
    repeated request answers it again, whether or not a drawer is open now)."""
    rma = session.exec(select(ReturnAuthorisation).where(ReturnAuthorisation.key == key)).first()
    if rma is None:
        return False
    paid = select(CashMovement).where(CashMovement.key == _payout_key(rma))
    return session.exec(paid).first() is not None


def _payout_key(rma: ReturnAuthorisation) -> str:
    return f"pos:return:{rma.number}:cash"


def pay_out_refund(
    *,
    session: Session,
    rma: ReturnAuthorisation,
    sale: CounterSale,
    employee_id: int | None,
    actor: Actor,
) -> tuple[Decimal, CashDrawer | None]:
    """Take a received return's refund out of the employee's open drawer, once per return.

    (cash paid out, the drawer); nothing for a card sale (the refund goes back to the card)
    or a return that refunds nothing.
    """
    if sale.tender != Tender.CASH or rma.refund_total <= 0:
        return Decimal("0.00"), None
    key = _payout_key(rma)
    paid = session.exec(select(CashMovement).where(CashMovement.key == key)).first()
    if paid is not None:  # paid out before (a repeated request)
        return -paid.amount, drawer_service.get(session=session, drawer_id=paid.drawer_id)
    assert employee_id is not None
    drawer = drawer_service.require_open(session=session, employee_id=employee_id, lock=True)
    movement = drawer_service.move_cash(
        session=session,
        drawer=drawer,
        key=key,
        kind=MovementKind.REFUND,
        amount=-rma.refund_total,
        order_number=rma.order_number,
        reference=rma.number,
        actor=actor,
    )
    record(
        session,
        actor=actor,
        action="pos.refund",
        entity="cash_drawer",
        entity_id=drawer.id,
        after={
            "return": rma.number,
            "order_number": rma.order_number,
            "amount": str(-movement.amount),
            "expected": str(drawer.expected),
        },
    )
    return -movement.amount, drawer
