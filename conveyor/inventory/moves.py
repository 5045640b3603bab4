"""Stock moves and adjustments: warehouse transfers, bin moves, corrections with a reason.

Built on the ledger of inventory/service.py and its rules: the product row is locked first, every
balance change is a guarded UPDATE (never below zero, never below what is committed) in a
savepoint, and each ledger row has a unique key, so a retried call changes nothing. A transfer is
a `move_out` in one warehouse and a `move_in` in the other, in one transaction: the company total
stays, and of two concurrent moves that together would take more than is there, one is refused.
Committed stock belongs to orders: it is neither moved nor adjusted away.
"""

from sqlmodel import Session, select

from conveyor.audit.service import Actor, record
from conveyor.core.errors import Conflict, Invalid, NotFound
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import (
    Product,
    ReorderLevel,
    StockAdjust,
    StockBalance,
    StockMove,
    StockMovement,
)

# The ledger primitives every stock change shares (one implementation, in service.py).
from conveyor.inventory.service import _already_done, _apply, _levels, _lock, _record, _Refused


def _product(session: Session, sku: str) -> Product:
    product = inventory_service.get_by_sku(session=session, sku=sku)
    if product is None:
        raise NotFound(f"unknown SKU {sku}")
    return product


def _warehouse(session: Session, code: str) -> str:
    try:
        return inventory_service.usable_warehouse(session=session, code=code)
    except inventory_service.UnknownWarehouseError as exc:
        raise Invalid(str(exc)) from exc


def _balance(session: Session, sku: str, warehouse: str) -> StockBalance | None:
    # populate_existing: a balance read earlier in this transaction may predate an UPDATE.
    return session.exec(
        select(StockBalance)
        .where(StockBalance.sku == sku)
        .where(StockBalance.warehouse == warehouse)
        .execution_options(populate_existing=True)
    ).first()


def _available(session: Session, sku: str, warehouse: str) -> int:
    on_hand, committed = _levels(session, sku).get(warehouse, (0, 0))
    return on_hand - committed


def _audit(
    session: Session, actor: Actor, action: str, sku: str, before: dict, after: dict
) -> None:
    record(
        session,
        actor=actor,
        action=action,
        entity="product",
        entity_id=sku,
        before=before,
        after=after,
    )


def move(*, session: Session, key: str, sku: str, move_in: StockMove, actor: Actor) -> bool:
    """Move stock: `qty` to another warehouse, or all of it to another bin of the same one.

    True when moved now, False when an earlier call with `key` did it. NotFound for an unknown
    SKU, Invalid for an unknown warehouse or a move that says nothing, Conflict when less than
    `qty` is available in the source warehouse.
    """
    product = _product(session, sku)
    source, target = move_in.from_warehouse, move_in.to_warehouse
    _warehouse(session, source)
    _warehouse(session, target)
    _lock(session, sku)
    if _already_done(session, f"{key}:out") or _already_done(session, f"{key}:bin"):
        return False
    held = _balance(session, sku, source)
    if held is None:
        raise Invalid(f"{sku} has no stock in {source}")
    if source == target:
        _relocate(session, key, held, move_in, actor)
        return True
    if move_in.qty is None:
        raise Invalid("say how many to move to another warehouse (qty)")
    qty = move_in.qty
    there = _balance(session, sku, target)
    if there is None:
        there = StockBalance(
            sku=sku, warehouse=target, location=move_in.to_location or product.location
        )
        session.add(there)
        session.flush()
    elif move_in.to_location and move_in.to_location != there.location:
        raise Invalid(
            f"{sku} is kept in bin {there.location} in {target} (one bin per warehouse): "
            "move it there, or move that bin first"
        )
    before = _levels(session, sku)
    try:
        with session.begin_nested():
            _apply(session, sku, source, -qty, 0)
            _apply(session, sku, target, qty, 0)
    except _Refused as exc:
        available = _available(session, sku, source)
        raise Conflict(
            f"cannot move {qty} x {sku} from {source}: {max(available, 0)} available there"
        ) from exc
    _record(session, f"{key}:out", sku, "move_out", qty, None, source, held.location, move_in.note)
    _record(session, f"{key}:in", sku, "move_in", qty, None, target, there.location, move_in.note)
    after = _levels(session, sku)
    _audit(
        session,
        actor,
        "stock.move",
        sku,
        {"on_hand": {source: before[source][0], target: before[target][0]}},
        {
            "on_hand": {source: after[source][0], target: after[target][0]},
            "from_warehouse": source,
            "to_warehouse": target,
            "to_location": there.location,
            "qty": qty,
            "note": move_in.note,
            "key": key,
        },
    )
    return True


def _relocate(
    session: Session, key: str, held: StockBalance, move_in: StockMove, actor: Actor
) -> None:
    """All of the SKU in a warehouse to another bin (a SKU has one bin per warehouse)."""
    new_bin = move_in.to_location
    if not new_bin:
        raise Invalid("name the bin to move to (to_location), or another warehouse")
    if new_bin == held.location:
        raise Invalid(f"{held.sku} is already in bin {new_bin} in {held.warehouse}")
    old_bin = held.location
    held.location = new_bin
    session.add(held)
    session.flush()
    on_hand = _levels(session, held.sku)[held.warehouse][0]
    _record(
        session,
        f"{key}:bin",
        held.sku,
        "relocate",
        on_hand,
        None,
        held.warehouse,
        new_bin,
        move_in.note,
    )
    _audit(
        session,
        actor,
        "stock.move",
        held.sku,
        {"warehouse": held.warehouse, "location": old_bin},
        {"warehouse": held.warehouse, "location": new_bin, "qty": on_hand, "note": move_in.note},
    )


def adjust(*, session: Session, key: str, sku: str, adjust_in: StockAdjust, actor: Actor) -> bool:
    """Correct a warehouse balance by `qty` with a reason; True when done now, False when an
    earlier call with `key` did it. Conflict when it would take away stock that is not there
    or is committed to orders."""
    product = _product(session, sku)
    warehouse = _warehouse(session, adjust_in.warehouse)
    _lock(session, sku)
    if _already_done(session, key):
        return False
    qty = adjust_in.qty
    if _balance(session, sku, warehouse) is None:
        if qty < 0:
            raise Conflict(f"cannot take {-qty} x {sku} from {warehouse}: it holds none")
        session.add(StockBalance(sku=sku, warehouse=warehouse, location=product.location))
        session.flush()
    on_hand_before = _levels(session, sku)[warehouse][0]
    try:
        with session.begin_nested():
            _apply(session, sku, warehouse, qty, 0)
    except _Refused as exc:
        available = _available(session, sku, warehouse)
        raise Conflict(
            f"cannot take {-qty} x {sku} from {warehouse}: {max(available, 0)} available there "
            "(stock committed to orders stays)"
        ) from exc
    kind = "adjust_in" if qty > 0 else "adjust_out"
    session.add(
        StockMovement(
            key=key,
            sku=sku,
            kind=kind,
            qty=abs(qty),
            warehouse=warehouse,
            reason=adjust_in.reason.value,
            note=adjust_in.note,
        )
    )
    session.flush()
    _audit(
        session,
        actor,
        "stock.adjust",
        sku,
        {"warehouse": warehouse, "on_hand": on_hand_before},
        {"warehouse": warehouse, "on_hand": on_hand_before + qty, "qty": qty}
        | {"reason": adjust_in.reason.value, "note": adjust_in.note, "key": key},
    )
    return True


def set_reorder_level(
    *, session: Session, sku: str, level_in: ReorderLevel, actor: Actor
) -> StockBalance:
    """Set (or clear, with None) the SKU's reorder level in a warehouse where it has a balance."""
    _product(session, sku)
    warehouse = _warehouse(session, level_in.warehouse)
    balance = _balance(session, sku, warehouse)
    if balance is None:
        raise Invalid(f"{sku} has no balance in {warehouse}: receive it there first")
    before = {"reorder_level": balance.reorder_level, "reorder_qty": balance.reorder_qty}
    balance.reorder_level = level_in.reorder_level
    if "reorder_qty" in level_in.model_fields_set:  # left out: kept as it is
        balance.reorder_qty = level_in.reorder_qty
    session.add(balance)
    session.flush()
    _audit(
        session,
        actor,
        "stock.reorder_level",
        sku,
        {"warehouse": warehouse, **before},
        {
            "warehouse": warehouse,
            "reorder_level": balance.reorder_level,
            "reorder_qty": balance.reorder_qty,
        },
    )
    return balance
