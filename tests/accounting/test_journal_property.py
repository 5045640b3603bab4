"""The journal balances whatever the business does: a property test over random sequences of
stock receipts at cost, purchases (purchase order, receipt, supplier invoice matched or held
and approved, paid or not), drop-ship sales billed by their supplier, sales of goods and
services (packed, invoiced; unpaid, paid, paid early with a discount), counter sales paid at
once, and part returns with their credit notes and refunds, each run through the services as
the workflows run them. After every sequence each document balances, the journal as a whole
balances, and the receivable, payable and inventory accounts hold what the books say they
should."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from conveyor.accounting import service as accounting_service
from conveyor.accounting.mapping import AccountMap
from conveyor.audit.service import Actor
from conveyor.core.db import session_scope
from conveyor.core.errors import Invalid
from conveyor.customer import service as customer_service
from conveyor.customer.models import CustomerCreate
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import Product, ProductCreate, ProductKind
from conveyor.inventory.service import StockNeed
from conveyor.invoice import service as invoice_service
from conveyor.invoice.models import CreditNote, Invoice, Payment
from conveyor.order import service as order_service
from conveyor.order.enums import OrderStatus
from conveyor.order.models import OrderCreate, OrderLineCreate, SalesOrder
from conveyor.pos import service as pos_service
from conveyor.pos.models import SaleCreate, SaleLine, Tender
from conveyor.purchasing import invoices as supplier_invoices
from conveyor.purchasing import receiving
from conveyor.purchasing import service as purchasing_service
from conveyor.purchasing import suppliers as supplier_service
from conveyor.purchasing.invoice_models import (
    SupplierInvoice,
    SupplierInvoiceCreate,
    SupplierInvoiceLineIn,
    SupplierInvoiceStatus,
    SupplierPaymentIn,
)
from conveyor.purchasing.models import (
    PurchaseReceiptIn,
    ReceiptLineIn,
    StockPurchaseCreate,
    StockPurchaseLineIn,
    SupplierCreate,
    SupplierPriceCreate,
)
from conveyor.returns import service as return_service
from conveyor.returns.models import ReturnCreate, ReturnLineCreate
from tests.utils.terms import add_terms

ACTOR = Actor.cli("property")
MAIN = "MAIN"
SKUS = ("P-A", "P-B", "P-C", "S-FIT")  # the last one a service: no stock, no cost
PRICES = {"P-A": "19.99", "P-B": "7.35", "P-C": "120.00", "S-FIT": "45.00"}
GOODS = len(SKUS) - 1
SUPPLIER = "PROPSUP"
DROP_SHIPPED = "P-DS"  # never in stock: sold drop-ship from the supplier's price list
MAPPING = AccountMap()
_customers: dict[str, dict[str, int]] = {}  # per database: set up by its first example


@dataclass(frozen=True)
class Receive:
    sku: int
    qty: int
    unit_cost: Decimal


@dataclass(frozen=True)
class Sell:
    lines: tuple[tuple[int, int], ...]  # (sku, qty)
    payment: str  # none | full | early (the discount terms' customer pays early)
    returned: int  # how many of the first line come back (0: none)


@dataclass(frozen=True)
class Buy:
    sku: int
    qty: int
    unit_price: Decimal
    overbilled: bool  # the supplier bills 10 % over the PO price: held, then approved
    paid: bool


@dataclass(frozen=True)
class DropShip:
    qty: int
    paid: bool  # the customer paid, and we paid the supplier


@dataclass(frozen=True)
class Counter:
    lines: tuple[tuple[int, int], ...]


receipts = st.builds(
    Receive,
    sku=st.integers(0, GOODS - 1),
    qty=st.integers(1, 9),
    unit_cost=st.decimals("0.0100", "80.0000", places=4),
)
purchases = st.builds(
    Buy,
    sku=st.integers(0, GOODS - 1),
    qty=st.integers(1, 9),
    unit_price=st.decimals("0.0100", "60.0000", places=4),
    overbilled=st.booleans(),
    paid=st.booleans(),
)
sale_lines = st.lists(
    st.tuples(st.integers(0, len(SKUS) - 1), st.integers(1, 3)),
    min_size=1,
    max_size=3,
    unique_by=lambda line: line[0],
).map(tuple)
sales = st.builds(
    Sell,
    lines=sale_lines,
    payment=st.sampled_from(["none", "full", "early"]),
    returned=st.integers(0, 3),
)
counter_sales = st.builds(Counter, lines=sale_lines)
drop_ships = st.builds(DropShip, qty=st.integers(1, 4), paid=st.booleans())
steps = st.lists(
    st.one_of(receipts, purchases, sales, counter_sales, drop_ships), min_size=1, max_size=8
)


def _setup(engine: Engine) -> dict[str, int]:
    """Products (no stock yet), a cash customer and a customer on 2 %-in-7-days terms."""
    add_terms(engine, "NET30-2", 30, discount_percent="2", discount_days=7)
    with session_scope(engine) as session:
        for sku in SKUS:
            kind = ProductKind.SERVICE if sku == SKUS[GOODS] else ProductKind.GOODS
            inventory_service.create(
                session=session,
                product_in=ProductCreate(name=sku, sku=sku, price=Decimal(PRICES[sku]), kind=kind),
                default_warehouse=MAIN,
                actor=ACTOR,
            )
        supplier = supplier_service.create(
            session=session,
            supplier_in=SupplierCreate(
                code=SUPPLIER, name="Property supplier", email="supplier@example.com"
            ),
            actor=ACTOR,
        )
        inventory_service.create(
            session=session,
            product_in=ProductCreate(
                name="Drop-shipped", sku=DROP_SHIPPED, price=Decimal("99.00"),
                drop_ship_allowed=True,
            ),
            default_warehouse=MAIN,
            actor=ACTOR,
        )  # fmt: skip
        supplier_service.add_price(
            session=session,
            supplier=supplier,
            price_in=SupplierPriceCreate(sku=DROP_SHIPPED, unit_price=Decimal("61.3750")),
            actor=ACTOR,
        )
        customers = {}
        for name, extra in (("cash", {}), ("early", {"payment_terms_code": "NET30-2"})):
            customers[name] = customer_service.create(
                session=session,
                customer_in=CustomerCreate.model_validate(
                    {"name": name, "email": f"{name}-{uuid.uuid4().hex[:6]}@example.com", **extra}
                ),
                actor=ACTOR,
            ).id
        return customers


def _receive(engine: Engine, step: Receive) -> None:
    with session_scope(engine) as session:
        inventory_service.receive(
            session=session,
            key=f"receipt-{uuid.uuid4().hex}",
            sku=SKUS[step.sku],
            qty=step.qty,
            unit_cost=step.unit_cost,
            default_warehouse=MAIN,
            actor=ACTOR,
        )


def _sell(engine: Engine, customers: dict[str, int], step: Sell) -> None:
    """The order's steps as the workflow runs them; nothing when the stock is short."""
    key = uuid.uuid4().hex
    with session_scope(engine) as session:
        customer = customers["early" if step.payment == "early" else "cash"]
        order = order_service.create(
            session=session,
            order_in=OrderCreate(
                customer_id=customer,
                lines=[OrderLineCreate(sku=SKUS[sku], qty=qty) for sku, qty in step.lines],
            ),
            created_by="property",
            actor=ACTOR,
        )
        number = order.number or ""
        if not _ship_and_invoice(session, order, step.lines, key):
            return
        invoice = invoice_service.list_for_order(session=session, order_id=order.id or 0)[0]
        if step.payment != "none":
            amount = invoice.total - (invoice.discount_amount if step.payment == "early" else 0)
            invoice_service.record_payment(
                session=session, key=f"{key}:pay", order=order, amount=amount, method="bank",
                actor=ACTOR,
            )  # fmt: skip
            order_service.set_state(session=session, order=order, status=OrderStatus.COMPLETED)
    goods = [(sku, qty) for sku, qty in step.lines if sku < GOODS]
    if step.returned and goods and step.payment != "none":  # returns: completed orders' goods
        sku, qty = goods[0]
        _return(engine, number, SKUS[sku], min(step.returned, qty), key)


def _ship_and_invoice(
    session: Session, order: SalesOrder, lines: tuple[tuple[int, int], ...], key: str
) -> bool:
    """Commit and pack the goods (service lines need no stock), invoice everything; False
    (nothing shipped) when the goods are short."""
    needs = [StockNeed(SKUS[sku], qty) for sku, qty in lines if sku < GOODS]
    number = order.number or ""
    if needs:
        committed = inventory_service.commit(
            session=session, key=f"{key}:c", order_number=number, needs=needs,
            default_warehouse=MAIN,
        )  # fmt: skip
        if not committed:
            return False
        inventory_service.pack(
            session=session, key=f"{key}:p", order_number=number, needs=needs,
            default_warehouse=MAIN,
        )  # fmt: skip
    invoice_service.create_for_order(session=session, key=f"{key}:i", order=order)
    return True


def _counter(engine: Engine, step: Counter) -> None:
    """A card sale at the counter: order and payment at once, then packed and invoiced by
    its workflow (here: the same services); nothing when the goods are short."""
    sale = SaleCreate(
        lines=[SaleLine(sku=SKUS[sku], qty=qty) for sku, qty in step.lines], tender=Tender.CARD
    )
    with session_scope(engine) as session:
        try:
            order, _ = pos_service.record_sale(
                session=session, sale_in=sale, employee_id=None, actor=ACTOR, number_prefix=""
            )
        except Invalid:
            return  # not enough in stock: the counter refuses the sale
        assert _ship_and_invoice(session, order, step.lines, uuid.uuid4().hex)
        order_service.set_state(session=session, order=order, status=OrderStatus.COMPLETED)


def _drop_ship(engine: Engine, customers: dict[str, int], step: DropShip) -> None:
    """A sale the supplier ships: the purchase order, the supplier's confirmation, our
    invoice (paid or not) and the supplier's invoice (matched; paid when the customer paid)."""
    key = uuid.uuid4().hex
    with session_scope(engine) as session:
        order = order_service.create(
            session=session,
            order_in=OrderCreate(
                customer_id=customers["cash"],
                lines=[OrderLineCreate(sku=DROP_SHIPPED, qty=step.qty)],
            ),
            created_by="property",
            actor=ACTOR,
        )
        (purchase,) = purchasing_service.create_for_order(session=session, key=key, order=order)
        purchasing_service.mark_shipped(
            session=session, purchase=purchase, tracking=None, actor=ACTOR
        )
        invoice = invoice_service.create_for_order(session=session, key=f"{key}:i", order=order)
        if step.paid:
            invoice_service.record_payment(
                session=session, key=f"{key}:pay", order=order, amount=invoice.total,
                method="bank", actor=ACTOR,
            )  # fmt: skip
        number = purchase.number
    with session_scope(engine) as session:
        billed = supplier_invoices.enter(
            session=session,
            invoice_in=SupplierInvoiceCreate(
                purchase_order=number,
                supplier_number=f"DS-{key[:12]}",
                invoice_date=datetime.now(UTC).date(),
                lines=[
                    SupplierInvoiceLineIn(
                        sku=DROP_SHIPPED, qty=step.qty, unit_price=Decimal("61.3750")
                    )
                ],
            ),
            tolerance_percent=Decimal("2"),
            actor=ACTOR,
        )
        assert billed.status == SupplierInvoiceStatus.APPROVED, billed.differences
        if step.paid:
            supplier_invoices.pay(
                session=session,
                number=billed.number,
                payment_in=SupplierPaymentIn(),
                actor=ACTOR,
            )


def _buy(engine: Engine, step: Buy) -> None:
    """A stock purchase order, received in full, then the supplier's invoice: matched and
    approved at once, or billed over the price, held and approved by an accountant; paid or
    not."""
    sku, key = SKUS[step.sku], uuid.uuid4().hex
    with session_scope(engine) as session:
        purchase = purchasing_service.create_stock(
            session=session,
            key=key,
            purchase_in=StockPurchaseCreate(
                supplier=SUPPLIER,
                lines=[
                    StockPurchaseLineIn(
                        sku=sku, qty=step.qty, unit_price=step.unit_price, tax_rate=Decimal("10")
                    )
                ],
            ),
            default_warehouse=MAIN,
            actor=ACTOR,
        )
        receiving.receive(
            session=session,
            key=f"{key}:r",
            purchase=purchase,
            receipt_in=PurchaseReceiptIn(lines=[ReceiptLineIn(sku=sku, qty=step.qty)]),
            tolerance_percent=Decimal("0"),
            default_warehouse=MAIN,
            actor=ACTOR,
        )
    billed = step.unit_price * (Decimal("1.1") if step.overbilled else 1)
    with session_scope(engine) as session:
        invoice = supplier_invoices.enter(
            session=session,
            invoice_in=SupplierInvoiceCreate(
                purchase_order=purchase.number,
                supplier_number=f"INV-{key[:12]}",
                invoice_date=datetime.now(UTC).date(),
                lines=[SupplierInvoiceLineIn(sku=sku, qty=step.qty, unit_price=round(billed, 4))],
            ),
            tolerance_percent=Decimal("2"),
            actor=ACTOR,
        )
        number = invoice.number
        held = invoice.status == SupplierInvoiceStatus.HELD
    if held:
        with session_scope(engine) as session:
            supplier_invoices.decide(
                session=session, number=number, approve=True, reason="agreed", actor=ACTOR
            )
    if step.paid:
        with session_scope(engine) as session:
            supplier_invoices.pay(
                session=session, number=number, payment_in=SupplierPaymentIn(), actor=ACTOR
            )


def _return(engine: Engine, number: str, sku: str, qty: int, key: str) -> None:
    """A part return: authorised, received, restocked, credited and refunded."""
    with session_scope(engine) as session:
        order = order_service.get_by_number(session=session, number=number)
        assert order is not None
        rma = return_service.create(
            session=session,
            key=f"{key}:rma",
            order=order,
            return_in=ReturnCreate(lines=[ReturnLineCreate(sku=sku, qty=qty)], reason="r"),
            actor=ACTOR,
        ).number
    for action in (
        partial(return_service.record_receipt, received=[], actor=ACTOR),
        partial(return_service.restock, default_warehouse=MAIN),
        return_service.credit,
        return_service.refund,
        return_service.complete,
    ):
        with session_scope(engine) as session:
            found = return_service.get_by_number(session=session, number=rma)
            assert found is not None
            action(session=session, rma=found)


def _owed_to_suppliers(session: Session) -> Decimal:
    """Approved supplier invoices not yet paid: what the business owes its suppliers."""
    open_invoices = session.exec(
        select(SupplierInvoice).where(SupplierInvoice.status == SupplierInvoiceStatus.APPROVED)
    )
    return sum((i.total for i in open_invoices), Decimal(0))


def _owed_by_the_books(session: Session) -> Decimal:
    """Invoiced − credited − every payment, discount and refund: what customers still owe."""
    invoiced = sum((i.total for i in session.exec(select(Invoice))), Decimal(0))
    credited = sum((n.total for n in session.exec(select(CreditNote))), Decimal(0))
    paid = sum((p.amount for p in session.exec(select(Payment))), Decimal(0))
    return invoiced - credited - paid


@settings(
    max_examples=12,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=steps)
def test_the_journal_balances_for_any_mix_of_business(
    engine: Engine, sequence: list[Receive | Buy | Sell | Counter | DropShip]
) -> None:
    # One database for every example: each sequence adds to the books of the ones before, so
    # the checks hold for everything the database has seen.
    customers = _customers.get(str(engine.url)) or _customers.setdefault(
        str(engine.url), _setup(engine)
    )
    for step in sequence:
        if isinstance(step, Receive):
            _receive(engine, step)
        elif isinstance(step, Buy):
            _buy(engine, step)
        elif isinstance(step, Counter):
            _counter(engine, step)
        elif isinstance(step, DropShip):
            _drop_ship(engine, customers, step)
        else:
            _sell(engine, customers, step)

    today = datetime.now(UTC).date()
    with session_scope(engine) as session:
        postings = accounting_service.journal(
            session=session, start=today - timedelta(days=1), end=today, mapping=MAPPING
        )
        owed = _owed_by_the_books(session)
        payable = _owed_to_suppliers(session)
        stock_value = sum(
            (p.on_hand * p.average_cost for p in session.exec(select(Product))), Decimal(0)
        )
    by_document: dict[str, list[accounting_service.Posting]] = {}
    for posting in postings:
        by_document.setdefault(posting.document, []).append(posting)
    for document, rows in by_document.items():
        assert sum(p.debit for p in rows) == sum(p.credit for p in rows), document
    assert sum(p.debit for p in postings) == sum(p.credit for p in postings)

    def balance(account: str) -> Decimal:
        return sum((p.debit - p.credit for p in postings if p.account == account), Decimal(0))

    assert balance(MAPPING.accounts.receivable) == owed
    assert -balance(MAPPING.accounts.payable) == payable
    # The inventory account follows the stock ledger's value to the cent per entry rounded.
    assert abs(balance(MAPPING.accounts.inventory) - stock_value) <= Decimal("0.01") * len(
        [p for p in postings if p.account == MAPPING.accounts.inventory]
    )
