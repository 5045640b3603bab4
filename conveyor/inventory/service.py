"""Stock operations: every change is a ledger entry with a unique key, applied atomically.

Stock is kept per warehouse (`StockBalance`), and the product row keeps the company-wide totals.
Both change only together, each through a guarded single-statement UPDATE (`... WHERE on_hand -
committed >= qty`), so neither a warehouse nor the company can oversell or go below zero, on
SQLite and on PostgreSQL alike. The ledger row (with its warehouse) is inserted in the same
transaction; its unique key turns a retry into a no-op. Every writer locks the product row first
(PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers), so a SKU's balances are read
and changed by one transaction at a time and locks are always taken in the same order.
Release and pack act only on what the ledger says the order holds in each warehouse, so a stray
or repeated call can never give back or ship another order's stock: for every SKU and
warehouse, on-hand = receipts - packs and committed = commits - releases - packs.

Ledger keys: one operation (`key`) on one SKU writes `key:SKU` for its first warehouse and
`key:SKU@WAREHOUSE` for any further one, so the first part alone says the SKU was done.

The default warehouse (CONVEYOR_DEFAULT_WAREHOUSE) comes from the caller, who holds the settings.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from conveyor.audit.service import Actor, record, snapshot
from conveyor.core.errors import Invalid
from conveyor.inventory import costing
from conveyor.inventory.models import (
    PickListLine,
    Product,
    ProductCreate,
    StockBalance,
    StockMovement,
    Warehouse,
    WarehouseCreate,
    default_bin,
    is_service,
)
from conveyor.order.models import SalesOrder


class UnknownSkuError(Exception):
    """No product has that SKU."""


class ProductExistsError(Exception):
    """A product with that SKU already exists."""


class InvalidBinError(Invalid):
    """No bin given, and none can be derived."""


class UnknownWarehouseError(Exception):
    """No warehouse has that code."""


class RetiredWarehouseError(UnknownWarehouseError):
    """The warehouse is retired: nothing is received into it or ordered from it any more."""


class NotStockedError(Invalid):
    """A service keeps no stock: nothing to receive."""


class WarehouseExistsError(Exception):
    """A warehouse with that code already exists."""


@dataclass(frozen=True)
class StockNeed:
    """A quantity of one SKU, optionally in one warehouse."""

    sku: str
    qty: int
    warehouse: str | None = None


# ---- warehouses -------------------------------------------------------------------------------


def get_warehouse(*, session: Session, code: str) -> Warehouse | None:
    """The warehouse with that code, or None."""
    return session.exec(select(Warehouse).where(Warehouse.code == code)).first()


def usable_warehouse(*, session: Session, code: str) -> str:
    """The code of a warehouse still in use; UnknownWarehouseError when there is none,
    RetiredWarehouseError when it is retired."""
    warehouse = get_warehouse(session=session, code=code)
    if warehouse is None:
        raise UnknownWarehouseError(f"unknown warehouse {code}")
    if warehouse.retired_at is not None:
        raise RetiredWarehouseError(f"warehouse {code} is retired; choose a warehouse in use")
    return code


def list_warehouses(*, session: Session) -> list[Warehouse]:
    """Every warehouse, by code."""
    return list(session.exec(select(Warehouse).order_by(Warehouse.code)).all())


def create_warehouse(*, session: Session, warehouse_in: WarehouseCreate, actor: Actor) -> Warehouse:
    """Add a warehouse."""
    if get_warehouse(session=session, code=warehouse_in.code):
        raise WarehouseExistsError(f"a warehouse with code {warehouse_in.code} already exists")
    warehouse = Warehouse.model_validate(warehouse_in)
    try:
        with session.begin_nested():
            session.add(warehouse)
            session.flush()
    except IntegrityError as exc:  # created concurrently
        raise WarehouseExistsError(
            f"a warehouse with code {warehouse_in.code} already exists"
        ) from exc
    record(
        session,
        actor=actor,
        action="warehouse.create",
        entity="warehouse",
        entity_id=warehouse.code,
        after=snapshot(warehouse),
    )
    return warehouse


def ensure_warehouse(*, session: Session, code: str) -> str:
    """The warehouse's code, its row created when missing (the default warehouse's first use)."""
    if get_warehouse(session=session, code=code) is None:
        try:
            with session.begin_nested():
                session.add(Warehouse(code=code, name=code))
                session.flush()
        except IntegrityError:
            pass  # created by a concurrent call
    return code


def balances(*, session: Session, sku: str) -> list[StockBalance]:
    """The SKU's balance in each warehouse that has one, by warehouse code."""
    return list(
        session.exec(
            select(StockBalance).where(StockBalance.sku == sku).order_by(StockBalance.warehouse)
        ).all()
    )


def _levels(session: Session, sku: str) -> dict[str, tuple[int, int]]:
    # Plain rows, not ORM objects: the identity map would hand back balances read before an
    # UPDATE statement of this same transaction.
    rows = session.exec(
        select(StockBalance.warehouse, StockBalance.on_hand, StockBalance.committed).where(
            StockBalance.sku == sku
        )
    ).all()
    return {warehouse: (on_hand, committed) for warehouse, on_hand, committed in rows}


def _preference(warehouses: Sequence[str], first: str) -> list[str]:
    """The order warehouses are used in: `first`, then the others by code."""
    return sorted(warehouses, key=lambda code: (code != first, code))


# ---- products ---------------------------------------------------------------------------------


def get_by_sku(*, session: Session, sku: str) -> Product | None:
    """The product with that SKU, or None."""
    return session.exec(select(Product).where(Product.sku == sku)).first()


def get_many(*, session: Session, skus: Sequence[str]) -> dict[str, Product]:
    """Products by SKU for the SKUs that exist."""
    rows = session.exec(select(Product).where(col(Product.sku).in_(list(skus)))).all()
    return {p.sku: p for p in rows}


def create(
    *, session: Session, product_in: ProductCreate, default_warehouse: str, actor: Actor
) -> Product:
    """Create a product with its opening stock (a receipt into the default warehouse)."""
    if get_by_sku(session=session, sku=product_in.sku):
        raise ProductExistsError(f"a product with SKU {product_in.sku} already exists")
    missing = sorted(
        set(product_in.options) - set(get_many(session=session, skus=product_in.options))
    )
    if missing:
        raise UnknownSkuError(f"unknown option SKU: {', '.join(missing)}")
    location = product_in.location or default_bin(product_in.sku)
    if location is None:
        raise InvalidBinError(f"SKU {product_in.sku} is too long to name a bin: give a location")
    warehouse = ensure_warehouse(session=session, code=default_warehouse)
    product = Product.model_validate(product_in, update={"location": location})
    session.add(product)
    session.flush()
    session.add(
        StockBalance(
            sku=product.sku,
            warehouse=warehouse,
            location=product.location,
            on_hand=product_in.on_hand,
        )
    )
    if product_in.on_hand:
        session.add(
            StockMovement(
                key=f"opening:{product_in.sku}",
                sku=product_in.sku,
                kind="receive",
                qty=product_in.on_hand,
                warehouse=warehouse,
            )
        )
    session.flush()
    after = snapshot(product) | {"on_hand": product_in.on_hand, "warehouse": warehouse}
    record(
        session,
        actor=actor,
        action="product.create",
        entity="product",
        entity_id=product.sku,
        after=after,
    )
    return product


# ---- the guarded change and the ledger --------------------------------------------------------


class _Refused(Exception):
    pass


def _guarded(table: type[Product] | type[StockBalance], on_hand: int, committed: int):
    """UPDATE adding the deltas, refused when on-hand, committed or available would go negative."""
    stmt = update(table).values(
        on_hand=table.on_hand + on_hand, committed=table.committed + committed
    )
    if on_hand < 0:
        stmt = stmt.where(col(table.on_hand) >= -on_hand)
    if committed < 0:
        stmt = stmt.where(col(table.committed) >= -committed)
    if committed - on_hand > 0:  # available shrinks: it must stay >= 0
        stmt = stmt.where(col(table.on_hand) - col(table.committed) >= committed - on_hand)
    return stmt


def _apply(session: Session, sku: str, warehouse: str, on_hand: int, committed: int) -> None:
    """Change one warehouse balance and the product total alike; _Refused if either guard says no.

    Callers run this inside a savepoint, so a refusal of the second UPDATE undoes the first.
    """
    result = session.exec(
        _guarded(StockBalance, on_hand, committed)
        .where(col(StockBalance.sku) == sku)
        .where(col(StockBalance.warehouse) == warehouse)
    )
    if result.rowcount != 1:
        raise _Refused(f"{sku} in {warehouse}")
    result = session.exec(_guarded(Product, on_hand, committed).where(col(Product.sku) == sku))
    if result.rowcount != 1:
        raise _Refused(sku)


def _lock(session: Session, sku: str) -> None:
    # PostgreSQL: a row lock on the product, taken first by every writer, so the ledger and
    # balance reads that follow cannot race another change of the SKU. SQLite: a no-op (BEGIN
    # IMMEDIATE already holds the write lock).
    session.exec(select(Product.id).where(Product.sku == sku).with_for_update()).first()


def _already_done(session: Session, key: str) -> bool:
    return (
        session.exec(select(StockMovement.id).where(StockMovement.key == key)).first() is not None
    )


def _part_key(key: str, sku: str, part: int, warehouse: str) -> str:
    return f"{key}:{sku}" if part == 0 else f"{key}:{sku}@{warehouse}"


def _record(
    session: Session,
    key: str,
    sku: str,
    kind: str,
    qty: int,
    order: str | None,
    warehouse: str,
    location: str | None = None,
    note: str | None = None,
    unit_cost: Decimal | None = None,
) -> None:
    session.add(
        StockMovement(
            key=key,
            sku=sku,
            kind=kind,
            qty=qty,
            order_number=order,
            warehouse=warehouse,
            location=location,
            note=note,
            unit_cost=unit_cost,
        )
    )
    session.flush()


# ---- inquiry ----------------------------------------------------------------------------------


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


def held_by_warehouse(*, session: Session, order_number: str, sku: str) -> dict[str, int]:
    """What the order holds committed of the SKU per warehouse, by the ledger (nonzero only)."""
    rows = session.exec(
        select(StockMovement.warehouse, StockMovement.kind, func.sum(StockMovement.qty))
        .where(StockMovement.order_number == order_number)
        .where(StockMovement.sku == sku)
        .where(col(StockMovement.kind).in_(["commit", "release", "pack"]))
        .group_by(StockMovement.warehouse, StockMovement.kind)
    ).all()
    held: dict[str, int] = {}
    for warehouse, kind, qty in rows:
        held[warehouse] = held.get(warehouse, 0) + (int(qty) if kind == "commit" else -int(qty))
    return {warehouse: qty for warehouse, qty in held.items() if qty}


def held(*, session: Session, order_number: str, sku: str) -> int:
    """What the order holds committed of the SKU, by the ledger (commits - releases - packs)."""
    return sum(held_by_warehouse(session=session, order_number=order_number, sku=sku).values())


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


# ---- commit -----------------------------------------------------------------------------------


class _Shortfall(Exception):
    pass


def _commit_sku(
    session: Session, key: str, order_number: str, sku: str, qty: int, first: str
) -> int:
    """Commit up to `qty` of the SKU over the warehouses in preference order; what was taken."""
    _lock(session, sku)
    levels = _levels(session, sku)
    taken = 0
    for warehouse in _preference(list(levels), first):
        on_hand, committed = levels[warehouse]
        part = min(qty - taken, on_hand - committed)
        if part <= 0:
            continue
        _apply(session, sku, warehouse, 0, part)
        _record(
            session,
            _part_key(key, sku, 1 if taken else 0, warehouse),
            sku,
            "commit",
            part,
            order_number,
            warehouse,
        )
        taken += part
        if taken == qty:
            break
    return taken


def commit(
    *,
    session: Session,
    key: str,
    order_number: str,
    needs: Sequence[StockNeed],
    warehouse: str | None = None,
    default_warehouse: str,
) -> bool:
    """Commit all `needs` or nothing; True when committed (now or by an earlier call with `key`).

    Each SKU comes from `warehouse` (default: the default warehouse) as far as it has it, then
    from the other warehouses by code, so one SKU may be split over several warehouses.
    """
    ordered = sorted(needs, key=lambda n: n.sku)  # fixed order: no lock-order deadlocks on PG
    if not ordered or _already_done(session, f"{key}:{ordered[0].sku}"):
        return True
    first = warehouse or default_warehouse
    try:
        with session.begin_nested():
            for need in ordered:
                if _commit_sku(session, key, order_number, need.sku, need.qty, first) < need.qty:
                    raise _Shortfall(need.sku)
    except (_Shortfall, _Refused):
        return False
    return True


def commit_available(
    *,
    session: Session,
    key: str,
    order_number: str,
    needs: Sequence[StockNeed],
    warehouse: str | None = None,
    default_warehouse: str,
) -> list[StockNeed]:
    """Commit as much of each need as is available now (partial fulfilment); once per `key`.

    Returns what this call (or the earlier call with the same `key`) committed, per SKU.
    """
    done = committed_under(session=session, key=key)
    if done:
        return done
    first = warehouse or default_warehouse
    committed = []
    for need in sorted(needs, key=lambda n: n.sku):
        try:
            with session.begin_nested():
                qty = _commit_sku(session, key, order_number, need.sku, need.qty, first)
        except _Refused:
            continue  # a balance disagreed with its read (cannot happen under the lock)
        if qty > 0:
            committed.append(StockNeed(sku=need.sku, qty=qty))
    return committed


def commitments_under(*, session: Session, key: str) -> list[StockNeed]:
    """What the call with `key` committed, per SKU and warehouse (one shipment's goods)."""
    rows = session.exec(
        select(StockMovement)
        .where(col(StockMovement.key).startswith(f"{key}:", autoescape=True))
        .where(StockMovement.kind == "commit")
        .order_by(StockMovement.sku, StockMovement.warehouse)
    ).all()
    return [StockNeed(sku=row.sku, qty=row.qty, warehouse=row.warehouse) for row in rows]


def committed_under(*, session: Session, key: str) -> list[StockNeed]:
    """What was committed by the call with `key`, per SKU (the content of one shipment)."""
    totals: dict[str, int] = {}
    for part in commitments_under(session=session, key=key):
        totals[part.sku] = totals.get(part.sku, 0) + part.qty
    return [StockNeed(sku=sku, qty=qty) for sku, qty in sorted(totals.items())]


# ---- release and pack -------------------------------------------------------------------------


def _by_sku(needs: Sequence[StockNeed]) -> dict[str, list[StockNeed]]:
    grouped: dict[str, list[StockNeed]] = {}
    for need in sorted(needs, key=lambda n: (n.sku, n.warehouse or "")):
        grouped.setdefault(need.sku, []).append(need)
    return grouped


def _plan(
    needs: list[StockNeed], holds: dict[str, int], default_warehouse: str
) -> tuple[int, dict[str, int]]:
    """(quantity asked, per-warehouse quantities) for one SKU's needs against what is held.

    Needs that all name their warehouse are taken there; otherwise the total is taken from the
    warehouses that hold the SKU, the default warehouse first, then by code.
    """
    asked = sum(n.qty for n in needs)
    if all(n.warehouse for n in needs):
        plan: dict[str, int] = {}
        for need in needs:
            plan[need.warehouse or ""] = plan.get(need.warehouse or "", 0) + need.qty
        return asked, plan
    plan, left = {}, asked
    for warehouse in _preference(list(holds), default_warehouse):
        part = min(left, holds[warehouse])
        if part > 0:
            plan[warehouse] = part
            left -= part
    return asked, plan


def release(
    *,
    session: Session,
    key: str,
    order_number: str,
    needs: Sequence[StockNeed],
    default_warehouse: str,
) -> None:
    """Give back what the order holds committed (compensation); nothing held, nothing to do."""
    for sku, sku_needs in _by_sku(needs).items():
        _lock(session, sku)
        if _already_done(session, f"{key}:{sku}"):
            continue
        holds = held_by_warehouse(session=session, order_number=order_number, sku=sku)
        _, plan = _plan(sku_needs, holds, default_warehouse)
        part = 0
        for warehouse, wanted in sorted(plan.items()):
            qty = min(wanted, holds.get(warehouse, 0))
            if qty <= 0:
                continue
            try:
                with session.begin_nested():
                    _apply(session, sku, warehouse, 0, -qty)
            except _Refused as exc:
                raise RuntimeError(
                    f"cannot release {qty} x {sku} in {warehouse}: balance below the ledger"
                ) from exc
            _record(
                session,
                _part_key(key, sku, part, warehouse),
                sku,
                "release",
                qty,
                order_number,
                warehouse,
            )
            part += 1


def pack(
    *,
    session: Session,
    key: str,
    order_number: str,
    needs: Sequence[StockNeed],
    default_warehouse: str,
) -> None:
    """Deduct packed goods from on-hand and from committed (only what the order holds, where)."""
    for sku, sku_needs in _by_sku(needs).items():
        _lock(session, sku)
        if _already_done(session, f"{key}:{sku}"):
            continue
        holds = held_by_warehouse(session=session, order_number=order_number, sku=sku)
        asked, plan = _plan(sku_needs, holds, default_warehouse)
        if sum(plan.values()) < asked or any(
            holds.get(warehouse, 0) < qty for warehouse, qty in plan.items()
        ):
            raise RuntimeError(f"cannot pack {asked} x {sku}: not committed to this order")
        # Goods leave at the average they are carried at: the cost of goods sold.
        product = get_by_sku(session=session, sku=sku)
        average = product.average_cost if product is not None else None
        for part, (warehouse, qty) in enumerate(sorted(plan.items())):
            try:
                with session.begin_nested():
                    _apply(session, sku, warehouse, -qty, -qty)
            except _Refused as exc:
                raise RuntimeError(
                    f"cannot pack {qty} x {sku} in {warehouse}: not committed"
                ) from exc
            _record(
                session,
                _part_key(key, sku, part, warehouse),
                sku,
                "pack",
                qty,
                order_number,
                warehouse,
                unit_cost=average,
            )


# ---- receive and stage ------------------------------------------------------------------------


def receive(
    *,
    session: Session,
    key: str,
    sku: str,
    qty: int,
    warehouse: str | None = None,
    location: str | None = None,
    note: str | None = None,
    unit_cost: Decimal | None = None,
    order_number: str | None = None,
    default_warehouse: str,
    actor: Actor,
) -> Product:
    """Goods received into a warehouse (default: the default one): on-hand rises, once per key.

    `location` sets the SKU's bin in that warehouse (new balances start at the product's bin);
    `note` is the receipt's reference (delivery note, supplier invoice) on its ledger entry;
    `unit_cost` moves the SKU's average cost (conveyor/inventory/costing.py); `order_number`
    marks goods a customer sent back on that order (the journal takes their cost back out of
    the cost of goods sold, not into goods received from suppliers).
    """
    product = get_by_sku(session=session, sku=sku)
    if product is None:
        raise UnknownSkuError(f"unknown SKU {sku}")
    if is_service(product):
        raise NotStockedError(f"{sku} is a service: it keeps no stock")
    if warehouse is None:
        warehouse = ensure_warehouse(session=session, code=default_warehouse)
    else:
        usable_warehouse(session=session, code=warehouse)
    _lock(session, sku)
    try:
        with session.begin_nested():
            _record(
                session, key, sku, "receive", qty, order_number, warehouse, location, note,
                unit_cost,
            )  # fmt: skip
    except IntegrityError:
        return product
    session.refresh(product)  # the totals as of the lock
    average_before = product.average_cost
    if unit_cost is not None:
        product.average_cost = costing.moving_average(
            on_hand=product.on_hand, average=average_before, qty=qty, unit_cost=unit_cost
        )
        session.add(product)
    balance = session.exec(
        select(StockBalance)
        .where(StockBalance.sku == sku)
        .where(StockBalance.warehouse == warehouse)
    ).first()
    bin_before = balance.location if balance is not None else None
    on_hand_before = balance.on_hand if balance is not None else 0
    if balance is None:
        session.add(
            StockBalance(sku=sku, warehouse=warehouse, location=location or product.location)
        )
    elif location and balance.location != location:
        balance.location = location
        session.add(balance)
    session.flush()
    _apply(session, sku, warehouse, qty, 0)  # receipts are never refused
    session.flush()
    session.refresh(product)
    # One entry per receipt (a retried key returned above); a new bin is a bin move.
    record(
        session,
        actor=actor,
        action="stock.receive",
        entity="product",
        entity_id=sku,
        before={"warehouse": warehouse, "on_hand": on_hand_before, "location": bin_before},
        after={
            "warehouse": warehouse,
            "on_hand": on_hand_before + qty,
            "location": location or bin_before or product.location,
            "qty": qty,
            "key": key,
            "note": note,
            "unit_cost": unit_cost,
            "average_cost": product.average_cost,
        },
    )
    return product


def stage(
    *,
    session: Session,
    key: str,
    order_number: str,
    sku: str,
    qty: int,
    warehouse: str,
    location: str,
) -> bool:
    """Record goods moved from their bin to staging `location` (on-hand unchanged), once per key.

    True when recorded now, False when an earlier call with `key` did it.
    """
    try:
        with session.begin_nested():
            _record(session, key, sku, "stage", qty, order_number, warehouse, location)
    except IntegrityError:
        return False
    return True


def bin_locations(*, session: Session, skus: Sequence[str]) -> dict[tuple[str, str], str]:
    """The bin of each (SKU, warehouse) that has a balance."""
    rows = session.exec(
        select(StockBalance.sku, StockBalance.warehouse, StockBalance.location).where(
            col(StockBalance.sku).in_(list(skus))
        )
    ).all()
    return {(sku, warehouse): location for sku, warehouse, location in rows}


def pick_list(*, session: Session, order_number: str) -> list[PickListLine] | None:
    """The order's pick list lines by shipment, warehouse and bin; None for an unknown order."""
    order = session.exec(select(SalesOrder).where(SalesOrder.number == order_number)).first()
    if order is None:
        return None
    return list(
        session.exec(
            select(PickListLine)
            .where(PickListLine.order_id == order.id)
            .order_by(
                col(PickListLine.shipment),
                col(PickListLine.warehouse),
                col(PickListLine.location),
                col(PickListLine.sku),
            )
        ).all()
    )
