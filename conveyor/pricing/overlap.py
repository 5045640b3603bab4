"""The one rule agreements must keep between them: no two alike in force on the same day."""

from datetime import date

from sqlmodel import Session, col, select

from conveyor.core.errors import Conflict
from conveyor.pricing.models import PriceAgreement, PriceAgreementCreate

# What an agreement applies to, and its rank: two active agreements alike in all of these with
# overlapping dates would leave the price to a tie-break nobody chose.
TARGET = (
    "scope",
    "sku",
    "item_group",
    "customer_id",
    "customer_group",
    "min_qty",
    "min_amount",
    "currency",
    "priority",
)


def overlaps(
    a_from: date | None, a_to: date | None, b_from: date | None, b_to: date | None
) -> bool:
    """True when two inclusive date ranges (None = open) share a day."""
    return (a_to is None or b_from is None or b_from <= a_to) and (
        b_to is None or a_from is None or a_from <= b_to
    )


def check_overlap(
    *, session: Session, agreement: PriceAgreementCreate, agreement_id: int | None = None
) -> None:
    """Conflict when another active agreement for the same target, break and priority is in
    force on any of the same days; `agreement_id` is the agreement itself when it is edited."""
    if not agreement.active:
        return
    query = select(PriceAgreement).where(col(PriceAgreement.active).is_(True))
    for name in TARGET:
        value = getattr(agreement, name)
        column = col(getattr(PriceAgreement, name))
        query = query.where(column.is_(None) if value is None else column == value)
    if agreement_id is not None:
        query = query.where(PriceAgreement.id != agreement_id)
    for other in session.exec(query.order_by(col(PriceAgreement.id))):
        if overlaps(agreement.valid_from, agreement.valid_to, other.valid_from, other.valid_to):
            since = other.valid_from.isoformat() if other.valid_from else "always"
            until = other.valid_to.isoformat() if other.valid_to else "open-ended"
            raise Conflict(
                f"overlaps agreement {other.id} ({other.name}, {since} to {until}) for the same "
                "items, customers, quantity break and priority: end that one first, or change "
                "the dates or the priority"
            )
