"""Suppliers' agreements by item group: a discount on every item of the group, from a quantity
on, for a period, applied to a SKU's list price that has no discount of its own."""

from datetime import date
from decimal import Decimal

from sqlmodel import Session, col, or_, select

from conveyor.audit.service import Actor
from conveyor.core.errors import Conflict
from conveyor.purchasing import agreements
from conveyor.purchasing.models import (
    Supplier,
    SupplierGroupDiscount,
    SupplierGroupDiscountCreate,
    SupplierGroupDiscountPublic,
)


def public(discount: SupplierGroupDiscount, supplier: Supplier) -> SupplierGroupDiscountPublic:
    """A group discount as the API shows it, with its supplier's code."""
    return SupplierGroupDiscountPublic(
        **discount.model_dump(exclude={"supplier_id", "created_at"}), supplier=supplier.code
    )


def of_supplier(*, session: Session, supplier_id: int | None) -> list[SupplierGroupDiscount]:
    """The supplier's group discounts, by item group, quantity and start date."""
    return list(
        session.exec(
            select(SupplierGroupDiscount)
            .where(SupplierGroupDiscount.supplier_id == supplier_id)
            .order_by(
                col(SupplierGroupDiscount.item_group),
                col(SupplierGroupDiscount.min_qty),
                col(SupplierGroupDiscount.valid_from),
            )
        )
    )


def add(
    *,
    session: Session,
    supplier: Supplier,
    discount_in: SupplierGroupDiscountCreate,
    actor: Actor,
) -> SupplierGroupDiscount:
    """Add a discount on an item group (from a quantity, from a date) for the supplier."""
    taken = Conflict(
        f"{supplier.code} already has a discount on {discount_in.item_group} from "
        f"{discount_in.min_qty} starting {discount_in.valid_from or 'at once'}"
    )
    discount = SupplierGroupDiscount.model_validate(
        discount_in, update={"supplier_id": supplier.id}
    )
    agreements.add_row(
        session=session,
        supplier=supplier,
        row=discount,
        alike=select(SupplierGroupDiscount.id)
        .where(SupplierGroupDiscount.supplier_id == supplier.id)
        .where(SupplierGroupDiscount.item_group == discount_in.item_group)
        .where(SupplierGroupDiscount.min_qty == discount_in.min_qty)
        .where(agreements.same_start(SupplierGroupDiscount.valid_from, discount_in.valid_from)),
        taken=taken,
        action="supplier.group_discount_add",
        actor=actor,
    )
    return discount


def delete(*, session: Session, supplier: Supplier, discount_id: int, actor: Actor) -> None:
    """Remove one of the supplier's group discounts."""
    agreements.delete_row(
        session=session,
        supplier=supplier,
        model=SupplierGroupDiscount,
        row_id=discount_id,
        what="group discount",
        action="supplier.group_discount_delete",
        actor=actor,
    )


def applicable(session: Session, item_group: str | None, qty: int, on: date) -> dict[int, Decimal]:
    """Per supplier, its discount percent on the item group for `qty` on `on`: the highest
    quantity not above `qty`, the latest start among those. Empty without an item group."""
    if item_group is None:
        return {}
    rows = session.exec(
        select(SupplierGroupDiscount)
        .where(SupplierGroupDiscount.item_group == item_group)
        .where(SupplierGroupDiscount.min_qty <= qty)
        .where(
            or_(
                col(SupplierGroupDiscount.valid_from).is_(None),
                col(SupplierGroupDiscount.valid_from) <= on,
            )
        )
        .where(
            or_(
                col(SupplierGroupDiscount.valid_to).is_(None),
                col(SupplierGroupDiscount.valid_to) >= on,
            )
        )
    ).all()
    best: dict[int, SupplierGroupDiscount] = {}
    for row in rows:
        current = best.get(row.supplier_id)
        if current is None or (row.min_qty, row.valid_from or date.min) > (
            current.min_qty,
            current.valid_from or date.min,
        ):
            best[row.supplier_id] = row
    return {supplier_id: row.discount_percent for supplier_id, row in best.items()}
