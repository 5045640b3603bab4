"""Stock service: commits are atomic, idempotent and never oversell (threads, real DB)."""

from concurrent.futures import ThreadPoolExecutor

from sqlmodel import Session, select

from conveyor.audit.service import Actor
from conveyor.core.db import session_scope
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import Product, ProductCreate
from conveyor.inventory.service import StockNeed


def _make(engine, sku: str, on_hand: int) -> None:
    with session_scope(engine) as session:
        inventory_service.create(
            session=session,
            product_in=ProductCreate(sku=sku, name=sku, price="1.00", on_hand=on_hand),
            default_warehouse="MAIN",
            actor=Actor.cli("test"),
        )


def _balance(engine, sku: str) -> tuple[int, int]:
    with Session(engine) as session:
        product = session.exec(select(Product).where(Product.sku == sku)).one()
        return product.on_hand, product.committed


def test_commit_is_idempotent_and_all_or_nothing(engine) -> None:
    _make(engine, "A", 5)
    _make(engine, "B", 1)
    with session_scope(engine) as session:
        assert inventory_service.commit(
            session=session,
            key="o1:commit",
            order_number="o1",
            needs=[StockNeed("A", 2)],
            default_warehouse="MAIN",
        )
    with session_scope(engine) as session:  # a retry with the same key changes nothing
        assert inventory_service.commit(
            session=session,
            key="o1:commit",
            order_number="o1",
            needs=[StockNeed("A", 2)],
            default_warehouse="MAIN",
        )
    assert _balance(engine, "A") == (5, 2)
    with session_scope(engine) as session:  # B is short: A must not be committed either
        assert not inventory_service.commit(
            session=session,
            key="o2:commit",
            order_number="o2",
            needs=[StockNeed("A", 1), StockNeed("B", 2)],
            default_warehouse="MAIN",
        )
    assert _balance(engine, "A") == (5, 2)
    assert _balance(engine, "B") == (1, 0)


def test_concurrent_commits_never_oversell(engine) -> None:
    _make(engine, "HOT", 25)

    def commit(i: int) -> bool:
        with session_scope(engine) as session:
            return inventory_service.commit(
                session=session,
                key=f"o{i}:commit",
                order_number=f"o{i}",
                needs=[StockNeed("HOT", 2)],
                default_warehouse="MAIN",
            )

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(commit, range(40)))
    assert results.count(True) == 12
    assert _balance(engine, "HOT") == (25, 24)
