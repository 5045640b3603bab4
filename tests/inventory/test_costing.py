"""Moving-average cost: the formula and its rounding, and the average kept by receipts and
recorded on packs (the cost of goods sold), on SQLite and PostgreSQL."""

import uuid
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from conveyor.audit.service import Actor
from conveyor.core.db import session_scope
from conveyor.inventory import costing
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import Product, ProductCreate, StockMovement
from conveyor.inventory.service import StockNeed

ACTOR = Actor.cli("test")


@pytest.mark.parametrize(
    ("on_hand", "average", "qty", "cost", "expected"),
    [
        (0, Decimal("0"), 10, Decimal("4.25"), Decimal("4.2500")),  # nothing on hand: its cost
        (-2, Decimal("3"), 5, Decimal("7"), Decimal("7.0000")),  # oversold: its cost too
        (8, Decimal("0"), 2, Decimal("3.10"), Decimal("3.1000")),  # no cost known yet: its cost
        (10, Decimal("4.25"), 5, Decimal("5.00"), Decimal("4.5000")),  # (42.50 + 25) / 15
        (3, Decimal("1"), 3, Decimal("0.00005"), Decimal("0.5000")),  # half-up at 4 places
        (2, Decimal("0.3333"), 1, Decimal("0.3334"), Decimal("0.3333")),  # 0.33333.. down
        (1, Decimal("0.0001"), 1, Decimal("0.0002"), Decimal("0.0002")),  # 0.00015 up
    ],
)
def test_moving_average_formula_and_rounding(
    on_hand: int, average: Decimal, qty: int, cost: Decimal, expected: Decimal
) -> None:
    got = costing.moving_average(on_hand=on_hand, average=average, qty=qty, unit_cost=cost)
    assert got == expected and got.as_tuple().exponent == -4


def _receive(engine: Engine, sku: str, key: str, qty: int, cost: str | None) -> Decimal:
    with session_scope(engine) as session:
        product = inventory_service.receive(
            session=session,
            key=key,
            sku=sku,
            qty=qty,
            unit_cost=Decimal(cost) if cost is not None else None,
            default_warehouse="MAIN",
            actor=ACTOR,
        )
        return product.average_cost


def test_receipts_move_the_average_and_packs_carry_it(engine: Engine) -> None:
    sku = f"C-{uuid.uuid4().hex[:6]}"
    with session_scope(engine) as session:
        inventory_service.create(
            session=session,
            product_in=ProductCreate(sku=sku, name="Costed", price=Decimal("9.00")),
            default_warehouse="MAIN",
            actor=ACTOR,
        )
    assert _receive(engine, sku, "r1", 10, "4.00") == Decimal("4.0000")
    assert _receive(engine, sku, "r1", 10, "99.00") == Decimal("4.0000")  # a retry: no change
    assert _receive(engine, sku, "r2", 5, "5.50") == Decimal("4.5000")  # (40 + 27.50) / 15
    assert _receive(engine, sku, "r3", 5, None) == Decimal("4.5000")  # no cost: unchanged
    with session_scope(engine) as session:
        assert inventory_service.commit(
            session=session, key="o1:commit", order_number="o1",
            needs=[StockNeed(sku, 6)], default_warehouse="MAIN",
        )  # fmt: skip
    with session_scope(engine) as session:
        inventory_service.pack(
            session=session, key="o1:pack", order_number="o1",
            needs=[StockNeed(sku, 6)], default_warehouse="MAIN",
        )  # fmt: skip
    # 14 left at 4.50; 6 more at 3.00: (63 + 18) / 20 = 4.05.
    assert _receive(engine, sku, "r4", 6, "3.00") == Decimal("4.0500")
    with session_scope(engine) as session:
        pack = session.exec(
            select(StockMovement)
            .where(StockMovement.sku == sku)
            .where(StockMovement.kind == "pack")
        ).one()
        assert (pack.qty, pack.unit_cost) == (6, Decimal("4.5000"))
        stored = session.exec(select(Product).where(Product.sku == sku)).one()
        assert (stored.on_hand, stored.average_cost) == (20, Decimal("4.0500"))
        costs = session.exec(
            select(StockMovement.unit_cost)
            .where(StockMovement.sku == sku)
            .where(StockMovement.kind == "receive")
            .order_by(StockMovement.id)
        ).all()
        assert costs == [Decimal("4.0000"), Decimal("5.5000"), None, Decimal("3.0000")]
