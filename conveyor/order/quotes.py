"""Explicit quotes: their validity, whether one may be revised, and the new version's terms."""

from datetime import UTC, date, datetime, time

from sqlmodel import Session

from conveyor.audit.service import Actor
from conveyor.audit.service import record as audit
from conveyor.core.errors import Conflict, NotFound
from conveyor.order import service as order_service
from conveyor.order.enums import OrderStatus, Step
from conveyor.order.models import (
    OrderChargeCreate,
    OrderCreate,
    QuoteRevision,
    SalesOrder,
    ShipTo,
)

# The last moment of a validity date: what the workflow's expiry timer and the mails show.
END_OF_DAY = time(23, 59, 59, tzinfo=UTC)


def expires_at(valid_until: date) -> datetime:
    """The moment a quote valid until that day (UTC) expires."""
    return datetime.combine(valid_until, END_OF_DAY)


def validity_seconds(order: SalesOrder, now: datetime, default: float) -> float:
    """How long the order's quote step waits for an answer, counted from `now`: to the end of
    its validity date for an explicit quote, else the settings' `default`."""
    if not order.explicit_quote or order.quote_valid_until is None:
        return default
    return max((expires_at(order.quote_valid_until) - now).total_seconds(), 1.0)


def cancel_reason(order: SalesOrder, reason: str) -> str:
    """Why the order was cancelled, as the trail and the customer's mail say it."""
    return f"replaced by the revised quote {order.superseded_by}" if order.superseded_by else reason


def check_revisable(order: SalesOrder) -> None:
    """Conflict unless the order is an open quote waiting for the customer's answer.

    The quote must have reached its quote step: until then its workflow would not take the
    void signal (it is not a quote yet for it), so a revision would leave it acceptable.
    """
    if order.superseded_by:
        raise Conflict(f"quote {order.number} was revised already: see {order.superseded_by}")
    if order.status != OrderStatus.QUOTE:
        raise Conflict(f"order {order.number} is not an open quote (it is {order.status})")
    if order.current_step != Step.QUOTE:
        raise Conflict(f"quote {order.number} is still being prepared; try again in a moment")


def revision_terms(session: Session, order: SalesOrder, revision: QuoteRevision) -> OrderCreate:
    """The new version as an order to place: the revision's lines and changes, the rest as the
    quote had it (its special charges unless the revision gives charges; shipping is worked out
    again)."""
    charges = revision.charges
    if charges is None:
        charges = [
            OrderChargeCreate(
                kind="special", description=c.description, amount=c.amount, tax_class=c.tax_class
            )
            for c in order_service.charges(session=session, order_id=order.id or 0)
            if c.kind == "special"
        ]
    ship_to = None
    if order.ship_to_name and order.ship_to_line1 and order.ship_to_city and order.ship_to_country:
        ship_to = ShipTo(
            name=order.ship_to_name,
            line1=order.ship_to_line1,
            line2=order.ship_to_line2,
            city=order.ship_to_city,
            region=order.ship_to_region,
            postcode=order.ship_to_postcode,
            country=order.ship_to_country,
        )
    return OrderCreate.model_validate(
        {
            "customer_id": order.customer_id,
            "channel": order.channel,
            "lines": revision.lines,
            "opportunity": order.opportunity,
            "allow_partial": order.allow_partial,
            "warehouse": order.warehouse,
            "ship_to_country": order.ship_to_country,
            "prices_include_tax": order.prices_include_tax,
            "charges": charges,
            "customer_po": revision.customer_po or order.customer_po,
            "requested_delivery_date": (
                revision.requested_delivery_date or order.requested_delivery_date
            ),
            "ship_to": ship_to,
            "quote": True,
            "quote_valid_until": revision.quote_valid_until,
        }
    )


def revise(
    *,
    session: Session,
    number: str,
    revision: QuoteRevision,
    created_by: str,
    actor: Actor,
    number_prefix: str = "SO",
    quote_validity_seconds: float = order_service.DEFAULT_QUOTE_VALIDITY_SECONDS,
) -> tuple[SalesOrder, SalesOrder]:
    """Record a new version of an open quote and mark the old one superseded by it (audited);
    returns (old, new). The caller voids the old quote's workflow once this is committed.

    NotFound, Conflict when the order is not an open quote, OrderError as `create` refuses.
    """
    old = order_service.get_by_number(session=session, number=number)
    if old is None:
        raise NotFound(f"order {number} not found")
    check_revisable(old)
    new = order_service.create(
        session=session,
        order_in=revision_terms(session, old, revision),
        created_by=created_by,
        actor=actor,
        number_prefix=number_prefix,
        quote_validity_seconds=quote_validity_seconds,
    )
    new.quote_version = old.quote_version + 1
    new.revises = old.number
    old.superseded_by = new.number
    session.add_all([old, new])
    order_service.add_event(
        session=session,
        key=f"{old.number}:superseded",
        order=old,
        kind="quote_superseded",
        message=f"quote revised: superseded by {new.number} (version {new.quote_version})",
        step=Step.QUOTE,
        actor=created_by,
    )
    audit(
        session,
        actor=actor,
        action="order.revise",
        entity="order",
        entity_id=old.number,
        before={"superseded_by": None, "quote_version": old.quote_version},
        after={"superseded_by": new.number, "quote_version": new.quote_version},
    )
    session.flush()
    return old, new


def withdraw_revision(session: Session, *, number: str, actor: Actor) -> None:
    """The quote was accepted before its revision voided it: it is not superseded after all."""
    order = order_service.get_by_number(session=session, number=number)
    if order is None or order.superseded_by is None:
        return
    audit(
        session,
        actor=actor,
        action="order.revise",
        entity="order",
        entity_id=number,
        before={"superseded_by": order.superseded_by},
        after={"superseded_by": None},
    )
    order.superseded_by = None
    session.add(order)
