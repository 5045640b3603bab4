"""Invoice and credit-note numbers: gap-free per year, also under concurrency (SQLite and PG)."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine

from conveyor.audit.service import Actor
from conveyor.core.db import session_scope
from conveyor.customer import service as customer_service
from conveyor.customer.models import CustomerCreate
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import ProductCreate
from conveyor.invoice import service as invoice_service
from conveyor.order import service as order_service
from conveyor.order.models import OrderCreate, OrderLineCreate


def _orders(engine: Engine, count: int) -> list[str]:
    with session_scope(engine) as session:
        customer = customer_service.create(
            session=session,
            customer_in=CustomerCreate(name="N", email="n@example.com"),
            actor=Actor.cli("test"),
        )
        inventory_service.create(
            session=session,
            product_in=ProductCreate(name="Item", sku="N-1", price="2.50", on_hand=0),
            default_warehouse="MAIN",
            actor=Actor.cli("test"),
        )
        numbers = []
        for _ in range(count):
            order = order_service.create(
                session=session,
                order_in=OrderCreate(
                    customer_id=customer.id, lines=[OrderLineCreate(sku="N-1", qty=3)]
                ),
                created_by="test",
                actor=Actor.cli("test"),
            )
            numbers.append(order.number)
        return numbers


def _invoice(engine: Engine, number: str, key: str) -> str:
    with session_scope(engine) as session:
        order = order_service.get_by_number(session=session, number=number)
        assert order is not None
        return invoice_service.create_for_order(session=session, key=key, order=order).number


def test_100_concurrent_invoices_get_100_consecutive_numbers(engine: Engine) -> None:
    orders = _orders(engine, 100)
    year = datetime.now(UTC).year
    with ThreadPoolExecutor(max_workers=16) as pool:
        numbers = list(pool.map(lambda n: _invoice(engine, n, f"{n}:invoice"), orders))
    assert sorted(numbers) == [f"INV-{year}-{i:06d}" for i in range(1, 101)]
    # A retry with the same key returns the same invoice, and takes no number.
    assert _invoice(engine, orders[0], f"{orders[0]}:invoice") in numbers
    assert _invoice(engine, orders[0], "another") == f"INV-{year}-000101"


def test_a_rolled_back_invoice_leaves_no_gap(engine: Engine) -> None:
    orders = _orders(engine, 2)
    year = datetime.now(UTC).year
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        order = order_service.get_by_number(session=session, number=orders[0])
        assert order is not None
        invoice_service.create_for_order(session=session, key="doomed", order=order)
        raise RuntimeError("the activity failed after numbering")
    assert _invoice(engine, orders[1], "kept") == f"INV-{year}-000001"


def test_numbers_restart_each_year_and_credit_notes_have_their_own(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    orders = _orders(engine, 3)
    assert _invoice(engine, orders[0], "a").endswith("-000001")
    monkeypatch.setattr(invoice_service, "utcnow", lambda: datetime(2031, 1, 1, tzinfo=UTC))
    assert _invoice(engine, orders[1], "b") == "INV-2031-000001"
    with session_scope(engine) as session:
        invoice = invoice_service.get_by_key(session=session, key="b")
        assert invoice is not None
        note = invoice_service.create_credit_note(
            session=session, key="b:credit", invoice=invoice, reason="cancelled"
        )
        again = invoice_service.create_credit_note(session=session, key="b:credit", invoice=invoice)
        assert note.number == again.number == "CN-2031-000001"
        assert note.total == invoice.total
        assert invoice_service.credited_total(session=session, order_id=invoice.order_id) == (
            invoice.total
        )
