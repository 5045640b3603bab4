"""Tax and shipping rates kept up to date: edited in place, retired (never deleted)."""

from sqlmodel import Session, SQLModel

from conveyor.audit.service import Actor, changed, record, snapshot
from conveyor.core.errors import Conflict
from conveyor.core.models import utcnow
from conveyor.core.patch import merged
from conveyor.pricing.models import (
    ShippingRate,
    ShippingRateCreate,
    ShippingRateUpdate,
    TaxRate,
    TaxRateCreate,
    TaxRateUpdate,
)

Rate = TaxRate | ShippingRate
# The audit entity of each kind of rate, as their create entries name it.
ENTITY: dict[type[SQLModel], str] = {TaxRate: "tax_rate", ShippingRate: "shipping_rate"}


def get_tax_rate(*, session: Session, rate_id: int) -> TaxRate | None:
    """The tax rate, or None."""
    return session.get(TaxRate, rate_id)


def get_shipping_rate(*, session: Session, rate_id: int) -> ShippingRate | None:
    """The shipping rate, or None."""
    return session.get(ShippingRate, rate_id)


def _label(rate: Rate) -> str:
    return f"{ENTITY[type(rate)].replace('_', ' ')} {rate.id}"


def _update(
    session: Session, rate: Rate, shape: type[SQLModel], changes: SQLModel, actor: Actor
) -> None:
    if rate.retired_at is not None:
        raise Conflict(f"{_label(rate)} is retired; add a new rate instead")
    before = snapshot(rate)
    result = merged(shape, before, changes.model_dump(exclude_unset=True))
    rate.sqlmodel_update(result.model_dump())
    session.add(rate)
    session.flush()
    old, new = changed(before, snapshot(rate))
    entity = ENTITY[type(rate)]
    record(
        session,
        actor=actor,
        action=f"{entity}.update",
        entity=entity,
        entity_id=rate.id,
        before=old,
        after=new,
    )


def update_tax_rate(
    *, session: Session, rate: TaxRate, changes: TaxRateUpdate, actor: Actor
) -> TaxRate:
    """Change a tax rate in force, checked as a new one would be; audited."""
    _update(session, rate, TaxRateCreate, changes, actor)
    return rate


def update_shipping_rate(
    *, session: Session, rate: ShippingRate, changes: ShippingRateUpdate, actor: Actor
) -> ShippingRate:
    """Change a shipping rate in force, checked as a new one would be; audited."""
    _update(session, rate, ShippingRateCreate, changes, actor)
    return rate


def retire(*, session: Session, rate: Rate, actor: Actor) -> Rate:
    """Retire a rate: it prices no more orders (invoices keep the amounts they were issued
    with). Conflict when it is already retired."""
    if rate.retired_at is not None:
        raise Conflict(f"{_label(rate)} was already retired on {rate.retired_at:%Y-%m-%d}")
    rate.retired_at = utcnow()
    session.add(rate)
    session.flush()
    entity = ENTITY[type(rate)]
    record(
        session,
        actor=actor,
        action=f"{entity}.retire",
        entity=entity,
        entity_id=rate.id,
        after={"retired_at": rate.retired_at},
    )
    return rate
