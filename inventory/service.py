"""Stock operations: every change is a ledger entry with a unique key, applied atomically.

Balances change only through guarded single-statement UPDATEs (`... WHERE on_hand - committed >=
qty`), so two concurrent commits can never oversell, on SQLite and on PostgreSQL alike. The
ledger row is inserted in the same transaction; its unique key turns a retry into a no-op.
Release and pack lock the product row first and then act only on what the ledger says this
order holds, so a stray or repeated call can never give back or ship another order's stock:
for every SKU, on-hand = receipts - packs and committed = commits - releases - packs.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from inventory.models import Product, ProductCreate, StockMovement


class UnknownSkuError(Exception):
    """No product has that SKU."""


class ProductExistsError(Exception):
    """A product with that SKU already exists."""


@dataclass(frozen=True)
class StockNeed:
    """A quantity of one SKU."""

    sku: str
    qty: int


def get_by_sku(*, session: Session, sku: str) -> Product | None:
    """The product with that SKU, or None."""
    return session.exec(select(Product).where(Product.sku == sku)).first()


def get_many(*, session: Session, skus: Sequence[str]) -> dict[str, Product]:
    """Products by SKU for the SKUs that exist."""
    rows = session.exec(select(Product).where(col(Product.sku).in_(list(skus)))).all()
    return {p.sku: p for p in rows}


def create(*, session: Session, product_in: ProductCreate) -> Product:
    """Create a product with its opening stock (recorded as a receipt)."""
    if get_by_sku(session=session, sku=product_in.sku):
        raise ProductExistsError(f"a product with SKU {product_in.sku} already exists")
    missing = sorted(
        set(product_in.options) - set(get_many(session=session, skus=product_in.options))
    )
    if missing:
        raise UnknownSkuError(f"unknown option SKU: {', '.join(missing)}")
    product = Product.model_validate(product_in)
    session.add(product)
    if product_in.on_hand:
        session.add(
            StockMovement(
                key=f"opening:{product_in.sku}",
                sku=product_in.sku,
                kind="receive",
                qty=product_in.on_hand,
            )
        )
    session.flush()
    return product


def _already_done(session: Session, key: str) -> bool:
    return (
        session.exec(select(StockMovement.id).where(StockMovement.key == key)).first() is not None
    )


def _record(session: Session, key: str, sku: str, kind: str, qty: int, order: str | None) -> None:
    session.add(StockMovement(key=key, sku=sku, kind=kind, qty=qty, order_number=order))
    session.flush()


def shortages(*, session: Session, needs: Sequence[StockNeed]) -> list[StockNeed]:
    """What is missing to cover `needs` from available stock (empty when all is there)."""
    products = get_many(session=session, skus=[n.sku for n in needs])
    missing = []
    for need in needs:
        product = products.get(need.sku)
        available = (product.on_hand - product.committed) if product else 0
        if available < need.qty:
            missing.append(StockNeed(sku=need.sku, qty=need.qty - available))
    return missing


class _Shortfall(Exception):
    pass


def commit(*, session: Session, key: str, order_number: str, needs: Sequence[StockNeed]) -> bool:
    """Commit all `needs` or nothing; True when committed (now or by an earlier call with `key`)."""
    ordered = sorted(needs, key=lambda n: n.sku)  # fixed order: no lock-order deadlocks on PG
    if not ordered or _already_done(session, f"{key}:{ordered[0].sku}"):
        return True
    try:
        with session.begin_nested():
            for need in ordered:
                result = session.execute(
                    update(Product)
                    .where(Product.sku == need.sku)
                    .where(Product.on_hand - Product.committed >= need.qty)
                    .values(committed=Product.committed + need.qty)
                )
                if result.rowcount != 1:
                    raise _Shortfall(need.sku)
                _record(session, f"{key}:{need.sku}", need.sku, "commit", need.qty, order_number)
    except _Shortfall:
        return False
    return True


def held(*, session: Session, order_number: str, sku: str) -> int:
    """What the order holds committed of the SKU, by the ledger (commits - releases - packs)."""
    sums = dict(
        session.exec(
            select(StockMovement.kind, func.sum(StockMovement.qty))
            .where(StockMovement.order_number == order_number)
            .where(StockMovement.sku == sku)
            .group_by(StockMovement.kind)
        ).all()
    )
    return int(sums.get("commit") or 0) - int(sums.get("release") or 0) - int(sums.get("pack") or 0)


def allocated(*, session: Session, order_number: str, sku: str) -> int:
    """What the order has had committed of the SKU so far, packed or not (commits - releases)."""
    sums = dict(
        session.exec(
            select(StockMovement.kind, func.sum(StockMovement.qty))
            .where(StockMovement.order_number == order_number)
            .where(StockMovement.sku == sku)
            .where(col(StockMovement.kind).in_(["commit", "release"]))
            .group_by(StockMovement.kind)
        ).all()
    )
    return int(sums.get("commit") or 0) - int(sums.get("release") or 0)


def commit_available(
    *, session: Session, key: str, order_number: str, needs: Sequence[StockNeed]
) -> list[StockNeed]:
    """Commit as much of each need as is available now (partial fulfilment); once per `key`.

    Returns what this call (or the earlier call with the same `key`) committed.
    """
    done = committed_under(session=session, key=key)
    if done:
        return done
    committed = []
    for need in sorted(needs, key=lambda n: n.sku):
        _lock(session, need.sku)
        product = get_by_sku(session=session, sku=need.sku)
        qty = min(need.qty, (product.on_hand - product.committed) if product else 0)
        if qty <= 0:
            continue
        result = session.execute(
            update(Product)
            .where(Product.sku == need.sku)
            .where(Product.on_hand - Product.committed >= qty)
            .values(committed=Product.committed + qty)
        )
        if result.rowcount != 1:
            continue  # taken meanwhile (only possible without the row lock); try next time
        _record(session, f"{key}:{need.sku}", need.sku, "commit", qty, order_number)
        committed.append(StockNeed(sku=need.sku, qty=qty))
    return committed


def committed_under(*, session: Session, key: str) -> list[StockNeed]:
    """What was committed by the call with `key` (the content of one shipment)."""
    rows = session.exec(
        select(StockMovement)
        .where(col(StockMovement.key).startswith(f"{key}:"))
        .where(StockMovement.kind == "commit")
        .order_by(StockMovement.sku)
    ).all()
    return [StockNeed(sku=row.sku, qty=row.qty) for row in rows]


def _lock(session: Session, sku: str) -> None:
    # PostgreSQL: a row lock, so the ledger read that follows cannot race another release or
    # pack of the SKU. SQLite: a no-op (BEGIN IMMEDIATE already holds the write lock).
    session.exec(select(Product.id).where(Product.sku == sku).with_for_update()).first()


def release(*, session: Session, key: str, order_number: str, needs: Sequence[StockNeed]) -> None:
    """Give back what the order holds committed (compensation); nothing held, nothing to do."""
    for need in sorted(needs, key=lambda n: n.sku):
        _lock(session, need.sku)
        if _already_done(session, f"{key}:{need.sku}"):
            continue
        qty = min(need.qty, held(session=session, order_number=order_number, sku=need.sku))
        if qty <= 0:
            continue
        result = session.execute(
            update(Product)
            .where(Product.sku == need.sku)
            .where(Product.committed >= qty)
            .values(committed=Product.committed - qty)
        )
        if result.rowcount != 1:
            raise RuntimeError(f"cannot release {qty} x {need.sku}: balance below the ledger")
        _record(session, f"{key}:{need.sku}", need.sku, "release", qty, order_number)


def pack(*, session: Session, key: str, order_number: str, needs: Sequence[StockNeed]) -> None:
    """Deduct packed goods from on-hand and from committed (only what the order holds)."""
    for need in sorted(needs, key=lambda n: n.sku):
        _lock(session, need.sku)
        if _already_done(session, f"{key}:{need.sku}"):
            continue
        if held(session=session, order_number=order_number, sku=need.sku) < need.qty:
            raise RuntimeError(f"cannot pack {need.qty} x {need.sku}: not committed to this order")
        result = session.execute(
            update(Product)
            .where(Product.sku == need.sku)
            .where(Product.committed >= need.qty)
            .where(Product.on_hand >= need.qty)
            .values(on_hand=Product.on_hand - need.qty, committed=Product.committed - need.qty)
        )
        if result.rowcount != 1:
            raise RuntimeError(f"cannot pack {need.qty} x {need.sku}: not committed")
        _record(session, f"{key}:{need.sku}", need.sku, "pack", need.qty, order_number)


def receive(*, session: Session, key: str, sku: str, qty: int) -> Product:
    """Goods received: on-hand rises by `qty` (once per key)."""
    product = get_by_sku(session=session, sku=sku)
    if product is None:
        raise UnknownSkuError(f"unknown SKU {sku}")
    try:
        with session.begin_nested():
            _record(session, key, sku, "receive", qty, None)
    except IntegrityError:
        return product
    session.execute(update(Product).where(Product.sku == sku).values(on_hand=Product.on_hand + qty))
    session.flush()
    session.refresh(product)
    return product
