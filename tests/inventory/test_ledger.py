"""Stock ledger under concurrency: commits, releases, packs and receipts on one SKU at once.

Whatever the interleaving (threads, real SQLite or PostgreSQL), on-hand and committed never go
below zero, nothing is oversold, a retried call changes nothing, and the balances equal the
ledger: on-hand = receipts - packs, committed = commits - releases - packs.
"""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from conveyor.audit.service import Actor
from conveyor.core.db import session_scope
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import Product, ProductCreate, StockMovement
from conveyor.inventory.service import StockNeed

# One order's life: how many it wants, what happens after a successful commit, and whether
# each call is delivered twice (an activity retry).
plans = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=4),
        st.sampled_from(["keep", "release", "pack", "release_then_pack"]),
        st.booleans(),
    ),
    min_size=5,
    max_size=24,
)


def _run_order(engine: Engine, sku: str, n: int, plan: tuple[int, str, bool]) -> bool:
    qty, after, retried = plan
    order = f"o{n}"
    need = [StockNeed(sku, qty)]
    calls = 2 if retried else 1

    def call(fn, what: str) -> bool | None:
        result = None
        for _ in range(calls):
            with session_scope(engine) as session:
                result = fn(
                    session=session,
                    key=f"{order}:{what}",
                    order_number=order,
                    needs=need,
                    default_warehouse="MAIN",
                )
        return result

    committed = call(inventory_service.commit, "commit")
    if not committed:
        # A stray compensation for an order that holds nothing gives nothing back.
        call(inventory_service.release, "release")
        return False
    if after in ("release", "release_then_pack"):
        call(inventory_service.release, "release")
    if after == "pack":
        call(inventory_service.pack, "pack")
    if after == "release_then_pack":  # nothing held any more: packing is refused
        with pytest.raises(RuntimeError, match="not committed"):
            call(inventory_service.pack, "pack")
    return True


def _receive(engine: Engine, sku: str, n: int, qty: int) -> None:
    for _ in range(2):  # delivered twice, counted once
        with session_scope(engine) as session:
            inventory_service.receive(
                session=session,
                key=f"receipt:{sku}:{n}",
                sku=sku,
                qty=qty,
                default_warehouse="MAIN",
                actor=Actor.cli("test"),
            )


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plan=plans,
    opening=st.integers(min_value=0, max_value=20),
    receipts=st.lists(st.integers(1, 5), max_size=4),
)
def test_concurrent_stock_movements_keep_the_ledger_and_balances_equal(
    engine: Engine, plan: list[tuple[int, str, bool]], opening: int, receipts: list[int]
) -> None:
    sku = f"L-{uuid.uuid4().hex[:8]}"
    with session_scope(engine) as session:
        inventory_service.create(
            session=session,
            product_in=ProductCreate(sku=sku, name=sku, price="1.00", on_hand=opening),
            default_warehouse="MAIN",
            actor=Actor.cli("test"),
        )
    with ThreadPoolExecutor(max_workers=8) as pool:
        orders = [pool.submit(_run_order, engine, sku, n, p) for n, p in enumerate(plan)]
        for n, qty in enumerate(receipts):
            pool.submit(_receive, engine, sku, n, qty)
    results = [f.result() for f in orders]

    with Session(engine) as session:
        product = session.exec(select(Product).where(Product.sku == sku)).one()
        sums = dict(
            session.exec(
                select(StockMovement.kind, func.sum(StockMovement.qty))
                .where(StockMovement.sku == sku)
                .group_by(StockMovement.kind)
            ).all()
        )
        holdings = {
            f"o{n}": inventory_service.held(session=session, order_number=f"o{n}", sku=sku)
            for n in range(len(plan))
        }
    got = {kind: int(sums.get(kind) or 0) for kind in ("receive", "commit", "release", "pack")}
    assert product.on_hand >= 0 and 0 <= product.committed <= product.on_hand
    assert got["receive"] == opening + sum(receipts)
    assert product.on_hand == got["receive"] - got["pack"]
    assert product.committed == got["commit"] - got["release"] - got["pack"]
    # Each order holds what it committed and kept, exactly once despite retries.
    for n, (qty, after, _) in enumerate(plan):
        expected = qty if results[n] and after == "keep" else 0
        assert holdings[f"o{n}"] == expected, (n, plan[n])
    packed = sum(
        qty for (qty, after, _), ok in zip(plan, results, strict=True) if ok and after == "pack"
    )
    assert got["pack"] == packed
    # Never oversold: at most the stock that ever arrived went to orders at once.
    assert got["commit"] - got["release"] <= got["receive"]
