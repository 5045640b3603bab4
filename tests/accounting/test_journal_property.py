"""The journal balances whatever the business does: a property test over random sequences of
receipts at cost, sales (packed, invoiced; unpaid, paid, paid early with a discount), part
returns with their credit notes and refunds, each run through the services as the workflows
run them. After every sequence each document balances, the journal as a whole balances, and
the receivable and inventory accounts hold what the books say they should."""

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
from conveyor.customer import service as customer_service
from conveyor.customer.models import CustomerCreate
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import Product, ProductCreate
from conveyor.inventory.service import StockNeed
from conveyor.invoice import service as invoice_service
from conveyor.invoice.models import CreditNote, Invoice, Payment
from conveyor.order import service as order_service
from conveyor.order.enums import OrderStatus
from conveyor.order.models import OrderCreate, OrderLineCreate
from conveyor.returns import service as return_service
from conveyor.returns.models import ReturnCreate, ReturnLineCreate
from tests.utils.terms import add_terms

ACTOR = Actor.cli("property")
MAIN = "MAIN"
SKUS = ("P-A", "P-B", "P-C")
PRICES = {"P-A": "19.99", "P-B": "7.35", "P-C": "120.00"}
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


receipts = st.builds(
    Receive,
    sku=st.integers(0, len(SKUS) - 1),
    qty=st.integers(1, 9),
    unit_cost=st.decimals("0.0100", "80.0000", places=4),
)
sales = st.builds(
    Sell,
    lines=st.lists(
        st.tuples(st.integers(0, len(SKUS) - 1), st.integers(1, 3)),
        min_size=1,
        max_size=3,
        unique_by=lambda line: line[0],
    ).map(tuple),
    payment=st.sampled_from(["none", "full", "early"]),
    returned=st.integers(0, 3),
)
steps = st.lists(st.one_of(receipts, sales), min_size=1, max_size=8)


def _setup(engine: Engine) -> dict[str, int]:
    """Products (no stock yet), a cash customer and a customer on 2 %-in-7-days terms."""
    add_terms(engine, "NET30-2", 30, discount_percent="2", discount_days=7)
    with session_scope(engine) as session:
        for sku in SKUS:
            inventory_service.create(
                session=session,
                product_in=ProductCreate(name=sku, sku=sku, price=Decimal(PRICES[sku])),
                default_warehouse=MAIN,
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
    needs = [StockNeed(SKUS[sku], qty) for sku, qty in step.lines]
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
        committed = inventory_service.commit(
            session=session, key=f"{key}:c", order_number=number, needs=needs,
            default_warehouse=MAIN,
        )  # fmt: skip
        if not committed:
            return
        inventory_service.pack(
            session=session, key=f"{key}:p", order_number=number, needs=needs,
            default_warehouse=MAIN,
        )  # fmt: skip
        invoice = invoice_service.create_for_order(session=session, key=f"{key}:i", order=order)
        if step.payment != "none":
            amount = invoice.total - (invoice.discount_amount if step.payment == "early" else 0)
            invoice_service.record_payment(
                session=session, key=f"{key}:pay", order=order, amount=amount, method="bank",
                actor=ACTOR,
            )  # fmt: skip
            order_service.set_state(session=session, order=order, status=OrderStatus.COMPLETED)
    if step.returned and step.payment != "none":  # returns come once an order is completed
        sku, qty = step.lines[0]
        _return(engine, number, SKUS[sku], min(step.returned, qty), key)


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
    engine: Engine, sequence: list[Receive | Sell]
) -> None:
    # One database for every example: each sequence adds to the books of the ones before, so
    # the checks hold for everything the database has seen.
    customers = _customers.get(str(engine.url)) or _customers.setdefault(
        str(engine.url), _setup(engine)
    )
    for step in sequence:
        if isinstance(step, Receive):
            _receive(engine, step)
        else:
            _sell(engine, customers, step)

    today = datetime.now(UTC).date()
    with session_scope(engine) as session:
        postings = accounting_service.journal(
            session=session, start=today - timedelta(days=1), end=today, mapping=MAPPING
        )
        owed = _owed_by_the_books(session)
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
    # The inventory account follows the stock ledger's value to the cent per entry rounded.
    assert abs(balance(MAPPING.accounts.inventory) - stock_value) <= Decimal("0.01") * len(
        [p for p in postings if p.account == MAPPING.accounts.inventory]
    )
