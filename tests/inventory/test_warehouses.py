"""Warehouses: receive, commit (split), release, pack and stage per warehouse (real DB, threads)."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from conveyor.audit.service import Actor
from conveyor.core.db import session_scope
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import (
    Product,
    ProductCreate,
    StockBalance,
    StockMovement,
    WarehouseCreate,
)
from conveyor.inventory.service import StockNeed


def _setup(engine: Engine, on_hand: int = 0, *warehouses: str) -> str:
    """A new product with `on_hand` in MAIN, and the given warehouses (created if missing)."""
    sku = f"W-{uuid.uuid4().hex[:8]}"
    with session_scope(engine) as session:
        for code in warehouses:
            if inventory_service.get_warehouse(session=session, code=code) is None:
                inventory_service.create_warehouse(
                    session=session,
                    warehouse_in=WarehouseCreate(code=code, name=code),
                    actor=Actor.cli("test"),
                )
        inventory_service.create(
            session=session,
            product_in=ProductCreate(
                sku=sku, name=sku, price="1.00", on_hand=on_hand, location="A-01"
            ),
            default_warehouse="MAIN",
            actor=Actor.cli("test"),
        )
    return sku


def _receive(engine: Engine, sku: str, qty: int, warehouse: str, location: str | None = None):
    with session_scope(engine) as session:
        inventory_service.receive(
            session=session,
            key=f"r:{uuid.uuid4()}",
            sku=sku,
            qty=qty,
            warehouse=warehouse,
            location=location,
            default_warehouse="MAIN",
            actor=Actor.cli("test"),
        )


def _balances(engine: Engine, sku: str) -> dict[str, tuple[int, int]]:
    with Session(engine) as session:
        return {
            b.warehouse: (b.on_hand, b.committed)
            for b in inventory_service.balances(session=session, sku=sku)
        }


def _product(engine: Engine, sku: str) -> tuple[int, int]:
    with Session(engine) as session:
        product = session.exec(select(Product).where(Product.sku == sku)).one()
        return product.on_hand, product.committed


def _ledger(engine: Engine, sku: str) -> dict[str, tuple[int, int]]:
    """Per warehouse (receipts - packs, commits - releases - packs) from the ledger."""
    with Session(engine) as session:
        rows = session.exec(
            select(StockMovement.warehouse, StockMovement.kind, func.sum(StockMovement.qty))
            .where(StockMovement.sku == sku)
            .group_by(StockMovement.warehouse, StockMovement.kind)
        ).all()
    sums: dict[str, dict[str, int]] = {}
    for warehouse, kind, qty in rows:
        sums.setdefault(warehouse, {})[kind] = int(qty)
    return {
        w: (
            s.get("receive", 0) - s.get("pack", 0),
            s.get("commit", 0) - s.get("release", 0) - s.get("pack", 0),
        )
        for w, s in sums.items()
    }


def test_existing_stock_and_new_products_live_in_the_default_warehouse(engine: Engine) -> None:
    sku = _setup(engine, 5)
    assert _balances(engine, sku) == {"MAIN": (5, 0)}
    with Session(engine) as session:
        codes = [w.code for w in inventory_service.list_warehouses(session=session)]
        movement = session.exec(select(StockMovement).where(StockMovement.sku == sku)).one()
    assert "MAIN" in codes
    assert movement.warehouse == "MAIN"


def test_receive_into_a_warehouse_sets_its_bin_and_refuses_unknown_ones(engine: Engine) -> None:
    sku = _setup(engine, 2, "EAST")
    _receive(engine, sku, 3, "EAST", "E-07")
    _receive(engine, sku, 1, "MAIN")
    assert _balances(engine, sku) == {"EAST": (3, 0), "MAIN": (3, 0)}
    assert _product(engine, sku) == (6, 0)
    with Session(engine) as session:
        bins = inventory_service.bin_locations(session=session, skus=[sku])
    assert bins == {(sku, "EAST"): "E-07", (sku, "MAIN"): "A-01"}
    with pytest.raises(inventory_service.UnknownWarehouseError):
        _receive(engine, sku, 1, "NOWHERE")
    with session_scope(engine) as session:  # the same key twice counts once
        for _ in range(2):
            inventory_service.receive(
                session=session,
                key="r-once",
                sku=sku,
                qty=4,
                default_warehouse="MAIN",
                actor=Actor.cli("test"),
            )
    assert _product(engine, sku) == (10, 0)


def test_commit_splits_over_warehouses_and_release_and_pack_follow_the_ledger(
    engine: Engine,
) -> None:
    sku = _setup(engine, 3, "EAST", "WEST")
    _receive(engine, sku, 2, "WEST")
    _receive(engine, sku, 4, "EAST")
    with session_scope(engine) as session:  # MAIN first, then the others by code
        assert inventory_service.commit(
            session=session,
            key="o1:commit",
            order_number="o1",
            needs=[StockNeed(sku, 5)],
            default_warehouse="MAIN",
        )
    assert _balances(engine, sku) == {"MAIN": (3, 3), "EAST": (4, 2), "WEST": (2, 0)}
    with Session(engine) as session:
        assert inventory_service.held_by_warehouse(session=session, order_number="o1", sku=sku) == {
            "MAIN": 3,
            "EAST": 2,
        }
    with session_scope(engine) as session:  # a preferred warehouse goes first
        assert inventory_service.commit(
            session=session,
            key="o2:commit",
            order_number="o2",
            needs=[StockNeed(sku, 3)],
            warehouse="WEST",
            default_warehouse="MAIN",
        )
    assert _balances(engine, sku) == {"MAIN": (3, 3), "EAST": (4, 3), "WEST": (2, 2)}
    with session_scope(engine) as session:  # only 0 left: all or nothing
        assert not inventory_service.commit(
            session=session,
            key="o3:commit",
            order_number="o3",
            needs=[StockNeed(sku, 2)],
            default_warehouse="MAIN",
        )
    for _ in range(2):  # release o2, retried: only what o2 holds, where it holds it
        with session_scope(engine) as session:
            inventory_service.release(
                session=session,
                key="o2:release",
                order_number="o2",
                needs=[StockNeed(sku, 3)],
                default_warehouse="MAIN",
            )
    assert _balances(engine, sku) == {"MAIN": (3, 3), "EAST": (4, 2), "WEST": (2, 0)}
    for _ in range(2):  # pack o1, retried
        with session_scope(engine) as session:
            inventory_service.pack(
                session=session,
                key="o1:pack",
                order_number="o1",
                needs=[StockNeed(sku, 5)],
                default_warehouse="MAIN",
            )
    assert _balances(engine, sku) == {"MAIN": (0, 0), "EAST": (2, 0), "WEST": (2, 0)}
    assert _product(engine, sku) == (4, 0)
    assert _ledger(engine, sku) == _balances(engine, sku)


def test_pack_of_one_warehouse_refuses_what_the_order_does_not_hold_there(engine: Engine) -> None:
    sku = _setup(engine, 1, "EAST")
    _receive(engine, sku, 1, "EAST")
    with session_scope(engine) as session:
        assert inventory_service.commit(
            session=session,
            key="p1:commit",
            order_number="p1",
            needs=[StockNeed(sku, 2)],
            default_warehouse="MAIN",
        )
    with pytest.raises(RuntimeError, match="not committed"), session_scope(engine) as session:
        inventory_service.pack(
            session=session,
            key="p1:pack",
            order_number="p1",
            needs=[StockNeed(sku, 2, warehouse="EAST")],
            default_warehouse="MAIN",
        )
    with session_scope(engine) as session:
        inventory_service.pack(
            session=session,
            key="p1:pack",
            order_number="p1",
            needs=[StockNeed(sku, 1, warehouse="EAST"), StockNeed(sku, 1, warehouse="MAIN")],
            default_warehouse="MAIN",
        )
    assert _balances(engine, sku) == {"MAIN": (0, 0), "EAST": (0, 0)}


def test_commit_available_takes_what_each_warehouse_has(engine: Engine) -> None:
    sku = _setup(engine, 1, "EAST")
    _receive(engine, sku, 2, "EAST")
    with session_scope(engine) as session:
        got = inventory_service.commit_available(
            session=session,
            key="s:commit:s1",
            order_number="s",
            needs=[StockNeed(sku, 5)],
            default_warehouse="MAIN",
        )
    assert got == [StockNeed(sku, 3)]
    with Session(engine) as session:
        assert inventory_service.commitments_under(session=session, key="s:commit:s1") == [
            StockNeed(sku, 2, "EAST"),
            StockNeed(sku, 1, "MAIN"),
        ]
        assert inventory_service.committed_under(session=session, key="s:commit:s1") == got
    with session_scope(engine) as session:  # retried: the same answer, nothing more taken
        again = inventory_service.commit_available(
            session=session,
            key="s:commit:s1",
            order_number="s",
            needs=[StockNeed(sku, 5)],
            default_warehouse="MAIN",
        )
    assert again == got
    assert _balances(engine, sku) == {"MAIN": (1, 1), "EAST": (2, 2)}


def test_stage_is_recorded_once_and_leaves_on_hand(engine: Engine) -> None:
    sku = _setup(engine, 2)
    for _ in range(2):
        with session_scope(engine) as session:
            inventory_service.stage(
                session=session,
                key="o9:stage",
                order_number="o9",
                sku=sku,
                qty=2,
                warehouse="MAIN",
                location="STAGE-01",
            )
    with Session(engine) as session:
        staged = session.exec(select(StockMovement).where(StockMovement.kind == "stage")).all()
    assert [(m.sku, m.qty, m.warehouse, m.location) for m in staged] == [
        (sku, 2, "MAIN", "STAGE-01")
    ]
    assert _balances(engine, sku) == {"MAIN": (2, 0)}


def test_concurrent_commits_over_two_warehouses_never_oversell(engine: Engine) -> None:
    sku = _setup(engine, 13, "EAST")
    _receive(engine, sku, 12, "EAST")

    def commit(i: int) -> bool:
        with session_scope(engine) as session:
            return inventory_service.commit(
                session=session,
                key=f"c{i}:commit",
                order_number=f"c{i}",
                needs=[StockNeed(sku, 2)],
                warehouse="EAST" if i % 2 else None,
                default_warehouse="MAIN",
            )

    def release(i: int) -> None:
        with session_scope(engine) as session:
            inventory_service.release(
                session=session,
                key=f"c{i}:release",
                order_number=f"c{i}",
                needs=[StockNeed(sku, 2)],
                default_warehouse="MAIN",
            )

    def pack(i: int) -> None:
        with session_scope(engine) as session:
            inventory_service.pack(
                session=session,
                key=f"c{i}:pack",
                order_number=f"c{i}",
                needs=[StockNeed(sku, 2)],
                default_warehouse="MAIN",
            )

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(commit, range(40)))
    assert results.count(True) == 12  # 25 units, 2 each: 12 orders, 1 unit left
    balances = _balances(engine, sku)
    assert sum(c for _, c in balances.values()) == 24
    assert all(0 <= c <= h for h, c in balances.values())
    assert _product(engine, sku) == (25, 24)
    winners = [i for i, ok in enumerate(results) if ok]
    with ThreadPoolExecutor(max_workers=16) as pool:  # half released, half packed, at once
        list(pool.map(lambda i: (release if i % 3 else pack)(i), winners))
    balances = _balances(engine, sku)
    assert all(h >= 0 and 0 <= c <= h for h, c in balances.values())
    assert (sum(h for h, _ in balances.values()), sum(c for _, c in balances.values())) == (
        _product(engine, sku)
    )
    assert _product(engine, sku)[1] == 0
    assert _ledger(engine, sku) == balances
    with Session(engine) as session:
        rows = session.exec(select(StockBalance).where(StockBalance.sku == sku)).all()
    assert {r.warehouse for r in rows} == {"MAIN", "EAST"}


def test_commits_receipts_releases_and_packs_at_once_keep_every_balance_equal_to_the_ledger(
    engine: Engine,
) -> None:
    sku = _setup(engine, 4, "EAST")
    _receive(engine, sku, 4, "EAST")

    def work(i: int) -> bool:
        order = f"m{i}"
        if i % 5 == 0:  # a receipt, into either warehouse
            _receive(engine, sku, 3, "EAST" if i % 2 else "MAIN")
            return False
        with session_scope(engine) as session:
            ok = inventory_service.commit(
                session=session,
                key=f"{order}:commit",
                order_number=order,
                needs=[StockNeed(sku, 3)],
                warehouse="EAST" if i % 2 else None,
                default_warehouse="MAIN",
            )
        if ok and i % 3:
            with session_scope(engine) as session:
                call = inventory_service.pack if i % 3 == 1 else inventory_service.release
                call(
                    session=session,
                    key=f"{order}:end",
                    order_number=order,
                    needs=[StockNeed(sku, 3)],
                    default_warehouse="MAIN",
                )
        return ok

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(work, range(45)))
    assert results.count(True) >= 3
    balances = _balances(engine, sku)
    assert all(h >= 0 and 0 <= c <= h for h, c in balances.values())
    on_hand, committed = _product(engine, sku)
    assert (sum(h for h, _ in balances.values()), sum(c for _, c in balances.values())) == (
        on_hand,
        committed,
    )
    assert _ledger(engine, sku) == balances
    kept = [i for i, ok in enumerate(results) if ok and i % 3 == 0]
    assert committed == 3 * len(kept)
