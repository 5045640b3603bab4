"""Price agreements kept up to date: filtered listing, overlap check, edit, end, price preview."""

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, or_, select

from conveyor.audit.service import Actor, changed, record, snapshot
from conveyor.core.db import page
from conveyor.core.errors import Conflict, Invalid, NotFound
from conveyor.core.patch import merged
from conveyor.customer import service as customer_service
from conveyor.inventory import service as inventory_service
from conveyor.pricing import engine
from conveyor.pricing import service as pricing_service
from conveyor.pricing.models import (
    PriceAgreement,
    PriceAgreementCreate,
    PriceAgreementUpdate,
)
from conveyor.pricing.overlap import check_overlap


class AgreementSort(StrEnum):
    """What the agreement list can be sorted by (`-` in front: descending)."""

    PRIORITY = "priority"
    NAME = "name"
    SKU = "sku"
    CUSTOMER = "customer_id"
    GROUP = "customer_group"
    FROM = "valid_from"
    TO = "valid_to"
    CREATED = "id"


@dataclass(frozen=True)
class AgreementFilter:
    """Which agreements a list shows; `in_force` True = applies today, False = not any more."""

    sku: str | None = None
    customer_id: int | None = None
    customer_group: str | None = None
    in_force: bool | None = None


def get(*, session: Session, agreement_id: int) -> PriceAgreement | None:
    """The agreement, or None."""
    return session.get(PriceAgreement, agreement_id)


def _in_force(today: date) -> Any:
    return (
        col(PriceAgreement.active).is_(True)
        & or_(col(PriceAgreement.valid_from).is_(None), col(PriceAgreement.valid_from) <= today)
        & or_(col(PriceAgreement.valid_to).is_(None), col(PriceAgreement.valid_to) >= today)
    )


def list_filtered(
    *,
    session: Session,
    where: AgreementFilter,
    today: date,
    sort: AgreementSort = AgreementSort.PRIORITY,
    descending: bool = True,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[PriceAgreement], int]:
    """One page of the agreements that match, in the order asked (then by id); and the count."""
    query = select(PriceAgreement)
    if where.sku:
        query = query.where(PriceAgreement.sku == where.sku)
    if where.customer_id:
        query = query.where(PriceAgreement.customer_id == where.customer_id)
    if where.customer_group:
        query = query.where(PriceAgreement.customer_group == where.customer_group)
    if where.in_force is True:
        query = query.where(_in_force(today))
    elif where.in_force is False:
        query = query.where(~_in_force(today))
    column = col(getattr(PriceAgreement, sort.value))
    first = column.desc() if descending else column.asc()
    return page(session, query, first, col(PriceAgreement.id), limit=limit, offset=offset)


def check_customer(*, session: Session, customer_id: int | None) -> None:
    """Invalid when the agreement names a customer that does not exist."""
    if customer_id is None:
        return
    if customer_service.get(session=session, customer_id=customer_id) is None:
        raise Invalid(f"unknown customer {customer_id}")


def update(
    *, session: Session, agreement: PriceAgreement, changes: PriceAgreementUpdate, actor: Actor
) -> PriceAgreement:
    """Change an agreement in place, checked as a new one would be, and audit what changed."""
    before = snapshot(agreement)
    result = merged(PriceAgreementCreate, before, changes.model_dump(exclude_unset=True))
    check_customer(session=session, customer_id=result.customer_id)
    check_overlap(session=session, agreement=result, agreement_id=agreement.id)
    agreement.sqlmodel_update(result.model_dump())
    session.add(agreement)
    session.flush()
    old, new = changed(before, snapshot(agreement))
    record(
        session,
        actor=actor,
        action="price_agreement.update",
        entity="price_agreement",
        entity_id=agreement.id,
        before=old,
        after=new,
    )
    return agreement


def end(
    *, session: Session, agreement: PriceAgreement, last_day: date, actor: Actor
) -> PriceAgreement:
    """End an agreement: `last_day` is the last day it applies. It stays on record (orders name
    it in their price rule); ending it later than it already ends is refused."""
    if agreement.valid_from is not None and last_day < agreement.valid_from:
        raise Invalid(
            f"the end date {last_day.isoformat()} is before the agreement starts "
            f"({agreement.valid_from.isoformat()})"
        )
    if agreement.valid_to is not None and agreement.valid_to <= last_day:
        raise Conflict(
            f"agreement {agreement.id} already ends on {agreement.valid_to.isoformat()}; "
            "edit it to change its dates"
        )
    before = agreement.valid_to
    agreement.valid_to = last_day
    session.add(agreement)
    session.flush()
    record(
        session,
        actor=actor,
        action="price_agreement.end",
        entity="price_agreement",
        entity_id=agreement.id,
        before={"valid_to": before},
        after={"valid_to": last_day},
    )
    return agreement


def preview(
    *, session: Session, customer_id: int, sku: str, qty: int, on: date
) -> engine.PricedOrder:
    """What the pricing engine gives `customer_id` for `qty` x `sku` on `on` (one-line order,
    so an order discount that the line alone reaches shows too). NotFound for either unknown."""
    customer = customer_service.get(session=session, customer_id=customer_id)
    if customer is None:
        raise NotFound(f"unknown customer {customer_id}")
    product = inventory_service.get_by_sku(session=session, sku=sku)
    if product is None:
        raise NotFound(f"unknown SKU {sku}")
    return pricing_service.price_order(
        session=session,
        customer=customer,
        products={sku: product},
        lines=[pricing_service.LineRequest(sku=sku, qty=qty)],
        currency=product.currency,
        on=on,
    )
