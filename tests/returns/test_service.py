"""Returns service: what may come back, restock or scrap, partial credit notes, refunds."""

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from conveyor.accounting import mapping as account_mapping
from conveyor.accounting import service as accounting_service
from conveyor.audit.service import Actor
from conveyor.core.db import session_scope
from conveyor.customer import service as customer_service
from conveyor.customer.models import CustomerCreate
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import ProductCreate, StockMovement
from conveyor.inventory.service import StockNeed
from conveyor.invoice import service as invoice_service
from conveyor.invoice.models import DISCOUNT_METHOD, CreditNote, CreditNoteLine, Payment
from conveyor.order import service as order_service
from conveyor.order.enums import OrderStatus
from conveyor.order.models import OrderCreate, OrderLineCreate, SalesOrder
from conveyor.pricing import service as pricing_service
from conveyor.pricing.models import TaxRateCreate
from conveyor.returns import service as return_service
from conveyor.returns.models import (
    Disposition,
    ReceiveLine,
    ReturnCreate,
    ReturnLineCreate,
    ReturnStatus,
)
from tests.utils.terms import add_terms

TODAY = datetime.now(UTC).date()


def _shipped_order(
    engine: Engine, *, inclusive: bool = False, paid: bool = True, payment_terms_code: str = ""
) -> str:
    """A completed order: 3 x TOOL at 19.99 (19 %), 2 x BOOK at 8.50 (7 %), packed, invoiced."""
    terms = {"payment_terms_code": payment_terms_code} if payment_terms_code else {}
    with session_scope(engine) as session:
        customer = customer_service.create(
            session=session,
            customer_in=CustomerCreate(name="R", email="r@example.com", country="DE", **terms),
            actor=Actor.cli("test"),
        )
        for product in (
            ProductCreate(name="Item", sku="TOOL", price="19.99", on_hand=10),
            ProductCreate(name="Item", sku="BOOK", price="8.50", on_hand=10, tax_class="reduced"),
        ):
            inventory_service.create(
                session=session,
                product_in=product,
                default_warehouse="MAIN",
                actor=Actor.cli("test"),
            )
        for rate in (
            TaxRateCreate(tax_class="standard", country="DE", rate="19"),
            TaxRateCreate(tax_class="reduced", country="DE", rate="7"),
        ):
            pricing_service.create_tax_rate(session=session, rate_in=rate, actor=Actor.cli("test"))
        order = order_service.create(
            session=session,
            order_in=OrderCreate(
                customer_id=customer.id,
                lines=[OrderLineCreate(sku="TOOL", qty=3), OrderLineCreate(sku="BOOK", qty=2)],
                prices_include_tax=inclusive,
            ),
            created_by="test",
            actor=Actor.cli("test"),
        )
        number = order.number or ""
        needs = [StockNeed("TOOL", 3), StockNeed("BOOK", 2)]
        assert inventory_service.commit(
            session=session, key="c", order_number=number, needs=needs, default_warehouse="MAIN"
        )
        inventory_service.pack(
            session=session, key="p", order_number=number, needs=needs, default_warehouse="MAIN"
        )
        invoice_service.create_for_order(session=session, key="i", order=order)
        if paid:
            invoice_service.record_payment(
                session=session,
                key="pay",
                order=order,
                amount=order.total,
                method="stripe",
                actor=Actor.cli("test"),
            )
        order_service.set_state(session=session, order=order, status=OrderStatus.COMPLETED)
        return number


def _authorise(engine: Engine, number: str, key: str, **qty: int) -> str:
    with session_scope(engine) as session:
        order = order_service.get_by_number(session=session, number=number)
        assert order is not None
        rma = return_service.create(
            session=session,
            key=key,
            order=order,
            return_in=ReturnCreate(
                lines=[ReturnLineCreate(sku=sku, qty=n) for sku, n in qty.items()],
                reason="damaged",
            ),
            actor=Actor.cli("test"),
        )
        return rma.number


def _process(engine: Engine, rma_number: str, received: list[ReceiveLine]) -> None:
    """What the ReturnWorkflow's activities do, each in its own transaction."""
    with session_scope(engine) as session:
        rma = return_service.get_by_number(session=session, number=rma_number)
        assert rma is not None
        return_service.record_receipt(
            session=session, rma=rma, received=received, actor=Actor.cli("test")
        )
    for step in (
        partial(return_service.restock, default_warehouse="MAIN"),
        return_service.credit,
        return_service.refund,
        return_service.complete,
    ):
        with session_scope(engine) as session:
            rma = return_service.get_by_number(session=session, number=rma_number)
            step(session=session, rma=rma)


def _stock(engine: Engine, sku: str) -> int:
    with session_scope(engine) as session:
        product = inventory_service.get_by_sku(session=session, sku=sku)
        assert product is not None
        return product.on_hand


def test_return_restocks_scraps_credits_to_the_cent_and_refunds(engine: Engine) -> None:
    number = _shipped_order(engine)
    rma = _authorise(engine, number, "k1", TOOL=1, BOOK=2)
    assert rma == "RMA-000001"
    received = [
        ReceiveLine(sku="TOOL", qty=1),
        ReceiveLine(sku="BOOK", qty=1, disposition=Disposition.SCRAP),
        ReceiveLine(sku="BOOK", qty=1, disposition=Disposition.RESTOCK),
    ]
    _process(engine, rma, received)
    _process(engine, rma, received)  # every step again: a retry changes nothing
    assert (_stock(engine, "TOOL"), _stock(engine, "BOOK")) == (8, 9)
    with session_scope(engine) as session:
        authorisation = return_service.get_by_number(session=session, number=rma)
        assert authorisation is not None
        assert authorisation.status == ReturnStatus.RECEIVED
        notes = return_service.credit_notes(session=session, rma=authorisation)
        assert len(notes) == 1
        # TOOL: 1 of 3 x 19.99 = 19.99, tax 1/3 of 11.39 = 3.80; BOOK: both, 17.00 and 1.19.
        assert (notes[0].subtotal, notes[0].tax, notes[0].total) == (
            Decimal("36.99"),
            Decimal("4.99"),
            Decimal("41.98"),
        )
        assert notes[0].number.startswith(f"CN-{TODAY.year}-")
        assert authorisation.credit_total == authorisation.refund_total == Decimal("41.98")
        refunds = session.exec(select(Payment).where(Payment.method == "refund")).all()
        assert [(p.amount, p.reference) for p in refunds] == [(Decimal("-41.98"), rma)]
        scraps = session.exec(select(StockMovement).where(StockMovement.kind == "scrap")).all()
        assert [(m.sku, m.qty, m.order_number) for m in scraps] == [("BOOK", 1, number)]

    # The other two tools: the credit that uses the line up takes exactly what is left of it.
    second = _authorise(engine, number, "k2", TOOL=2)
    _process(engine, second, [])  # no lines: everything authorised, restocked
    with session_scope(engine) as session:
        lines = session.exec(select(CreditNoteLine).where(CreditNoteLine.sku == "TOOL")).all()
        assert sum(line.amount for line in lines) == Decimal("59.97")
        assert sum(line.tax_amount for line in lines) == Decimal("11.39")
        order = order_service.get_by_number(session=session, number=number)
        assert order is not None
        # Everything came back: credited = invoiced, and the customer has all money back.
        assert invoice_service.credited_total(session=session, order_id=order.id) == order.total
        assert invoice_service.paid_total(session=session, order_id=order.id) == Decimal("0.00")
    assert _stock(engine, "TOOL") == 10

    with pytest.raises(return_service.ReturnError, match="0 left"):
        _authorise(engine, number, "k3", TOOL=1)


def test_returns_refuse_what_was_not_shipped_and_write_nothing(engine: Engine) -> None:
    number = _shipped_order(engine)
    _authorise(engine, number, "first", TOOL=2)
    for wanted, message in (
        ({"TOOL": 2}, "1 left"),  # 3 shipped, 2 returned already
        ({"GHOST": 1}, "GHOST was not shipped"),
        ({"BOOK": 1, "TOOL": 5}, "5 x TOOL cannot be returned"),
    ):
        with pytest.raises(return_service.ReturnError, match=message):
            _authorise(engine, number, f"bad-{len(message)}", **wanted)
    with session_scope(engine) as session:
        rows, count = return_service.list_returns(session=session, order_number=number)
        assert count == 1
        # Receiving more than authorised, or a SKU not on the return, is refused as well.
        for received in ([ReceiveLine(sku="TOOL", qty=3)], [ReceiveLine(sku="BOOK", qty=1)]):
            with pytest.raises(return_service.ReturnError):
                return_service.record_receipt(
                    session=session, rma=rows[0], received=received, actor=Actor.cli("test")
                )

    # An order that shipped nothing, and one that is not completed yet, take no returns.
    with session_scope(engine) as session:
        order = order_service.get_by_number(session=session, number=number)
        assert order is not None
        other = order_service.create(
            session=session,
            order_in=OrderCreate(
                customer_id=order.customer_id, lines=[OrderLineCreate(sku="TOOL", qty=1)]
            ),
            created_by="test",
            actor=Actor.cli("test"),
        )
        other_number = other.number or ""
    with pytest.raises(return_service.ReturnConflictError, match="nothing was shipped"):
        _authorise(engine, other_number, "unshipped", TOOL=1)
    with session_scope(engine) as session:
        order = order_service.get_by_number(session=session, number=number)
        assert order is not None
        order_service.set_state(session=session, order=order, status=OrderStatus.OPEN)
    with pytest.raises(return_service.ReturnConflictError, match="once it is completed"):
        _authorise(engine, number, "open", TOOL=1)


def test_unpaid_order_gets_credit_but_no_refund(engine: Engine) -> None:
    number = _shipped_order(engine, paid=False)
    rma = _authorise(engine, number, "k", BOOK=1)
    _process(engine, rma, [])
    with session_scope(engine) as session:
        authorisation = return_service.get_by_number(session=session, number=rma)
        assert authorisation is not None
        assert authorisation.credit_total == Decimal("9.10")  # 8.50 + 0.595 -> 0.60 (half of 1.19)
        assert authorisation.refund_total == Decimal("0.00")
        assert session.exec(select(Payment)).all() == []
        order = session.exec(select(SalesOrder).where(SalesOrder.number == number)).one()
        owed = invoice_service.open_receivables(session=session, customer_id=order.customer_id)
        assert owed == order.total - Decimal("9.10")


@pytest.mark.parametrize("inclusive", [False, True])
def test_journal_reverses_only_the_returned_lines(engine: Engine, inclusive: bool) -> None:
    number = _shipped_order(engine, inclusive=inclusive)
    rma = _authorise(engine, number, "k", TOOL=1)
    _process(engine, rma, [])
    with session_scope(engine) as session:
        postings = accounting_service.journal(
            session=session, start=TODAY, end=TODAY, mapping=account_mapping.AccountMap()
        )
        note = session.exec(select(CreditNote)).one()
    documents: dict[str, list] = defaultdict(list)
    for posting in postings:
        documents[posting.document].append(posting)
    for rows in documents.values():
        assert sum(p.debit for p in rows) == sum(p.credit for p in rows) > 0
    rows = {(p.account, p.description): (p.debit, p.credit) for p in documents[note.number]}
    zero = Decimal("0.00")
    if inclusive:  # 19.99 with 19 % inside: 3.19 tax (1/3 of 9.58), 16.80 net
        assert note.total == Decimal("19.99")
        assert rows == {
            ("1200", "receivable"): (zero, Decimal("19.99")),
            ("4000", "revenue"): (Decimal("16.80"), zero),
            ("2200", "tax 19%"): (Decimal("3.19"), zero),
        }
    else:
        assert note.total == Decimal("23.79")
        assert rows == {
            ("1200", "receivable"): (zero, Decimal("23.79")),
            ("4000", "revenue"): (Decimal("19.99"), zero),
            ("2200", "tax 19%"): (Decimal("3.80"), zero),
        }
    refund = next(p.document for p in postings if p.description.startswith("refund (refund)"))
    assert {(p.account, p.debit, p.credit) for p in documents[refund]} == {
        ("1000", zero, note.total),
        ("1200", note.total, zero),
    }


def test_concurrent_returns_never_take_more_than_was_shipped(engine: Engine) -> None:
    number = _shipped_order(engine)

    def attempt(i: int) -> str:
        try:
            return _authorise(engine, number, f"race-{i}", TOOL=1)
        except return_service.ReturnError:
            return "refused"

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(attempt, range(6)))
    assert sorted(outcomes) == ["RMA-000001", "RMA-000002", "RMA-000003"] + ["refused"] * 3
    with session_scope(engine) as session:
        order = order_service.get_by_number(session=session, number=number)
        assert order is not None
        assert return_service.returned(session=session, order_id=order.id or 0) == {"TOOL": 3}


def test_refund_after_an_early_payment_discount_pays_back_what_was_paid(engine: Engine) -> None:
    """2 % for paying early: the customer paid 87.76 of 89.55; the refunds add up to 87.76,
    each return taking back its share of the discount, and the receivable ends at zero."""
    add_terms(engine, "NET14-2", 14, discount_percent="2", discount_days=7)
    number = _shipped_order(engine, paid=False, payment_terms_code="NET14-2")
    with session_scope(engine) as session:
        order = order_service.get_by_number(session=session, number=number)
        assert order is not None
        assert order.total == Decimal("89.55")
        invoice_service.record_payment(
            session=session,
            key="early",
            order=order,
            amount=Decimal("87.76"),
            method="bank",
            actor=Actor.cli("test"),
        )
        assert invoice_service.still_due(session=session, order=order) == 0  # 1.79 discount

    books = _authorise(engine, number, "k1", BOOK=2)  # credit 18.19, its share 0.36
    _process(engine, books, [])
    _process(engine, books, [])  # a retry takes nothing back twice
    tools = _authorise(engine, number, "k2", TOOL=3)  # credit 71.36: the rest, 1.43
    _process(engine, tools, [])
    with session_scope(engine) as session:
        refunds = {
            rma: return_service.get_by_number(session=session, number=rma).refund_total  # type: ignore[union-attr]
            for rma in (books, tools)
        }
        assert refunds == {books: Decimal("17.83"), tools: Decimal("69.93")}
        rows = session.exec(select(Payment).where(Payment.method == DISCOUNT_METHOD)).all()
        assert sorted(p.amount for p in rows) == [
            Decimal("-1.43"),
            Decimal("-0.36"),
            Decimal("1.79"),
        ]
        order = order_service.get_by_number(session=session, number=number)
        assert order is not None
        assert invoice_service.paid_total(session=session, order_id=order.id) == 0
        postings = accounting_service.journal(
            session=session,
            start=TODAY,
            end=TODAY,
            mapping=account_mapping.AccountMap(),
        )
    assert sum(p.debit for p in postings) == sum(p.credit for p in postings)
    receivable = account_mapping.AccountMap().accounts.receivable
    assert sum(p.debit - p.credit for p in postings if p.account == receivable) == 0
