"""A customer changes their own password: the new hash is stored, every other session ends."""

from datetime import timedelta

from sqlmodel import Session

from conveyor.audit.models import ActorKind, Source
from conveyor.audit.service import Actor, record
from conveyor.auth import credentials
from conveyor.core.errors import Conflict
from conveyor.customer.models import Customer


def change_password(
    *,
    session: Session,
    customer_id: int,
    expected_hash: str,
    password_hash: str,
    lifetime: timedelta,
) -> str:
    """Replace the password (the caller checked the current one against `expected_hash` and
    hashed the new one); returns the id of a fresh session for the caller's browser, since all
    the customer's sessions, this one's old id included, end. Conflict when the password
    changed meanwhile."""
    customer = session.get(Customer, customer_id)
    if customer is None or customer.password_hash != expected_hash:
        raise Conflict("your password was changed meanwhile: sign in again")
    customer.password_hash = password_hash
    session.add(customer)
    session.flush()
    ended = credentials.end_sessions_of(session=session, kind="customer", subject_id=customer_id)
    sid = credentials.start_session(
        session=session, kind="customer", subject_id=customer_id, lifetime=lifetime
    )
    record(
        session,
        actor=Actor(name=customer.email, kind=ActorKind.CUSTOMER, source=Source.PAGE),
        action="customer.password_change",
        entity="customer",
        entity_id=customer_id,
        after={"other_sessions_ended": max(ended - 1, 0)},
    )
    return sid
