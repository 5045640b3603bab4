"""Customer operations."""

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from conveyor.audit.service import Actor, record, snapshot
from conveyor.core.errors import Invalid
from conveyor.core.security import hash_password
from conveyor.customer.models import Customer, CustomerCreate
from conveyor.employee.models import Employee


class CustomerExistsError(Exception):
    """A customer with that e-mail already exists."""


def get(*, session: Session, customer_id: int) -> Customer | None:
    """The customer with that id, or None."""
    return session.get(Customer, customer_id)


def get_by_email(*, session: Session, email: str) -> Customer | None:
    """The customer with that e-mail (case-insensitive), or None."""
    return session.exec(select(Customer).where(Customer.email == email.lower())).first()


def create(*, session: Session, customer_in: CustomerCreate, actor: Actor) -> Customer:
    """Create a customer; the e-mail must be new."""
    if get_by_email(session=session, email=customer_in.email):
        raise CustomerExistsError(f"a customer with e-mail {customer_in.email} already exists")
    rep = customer_in.account_rep_id
    if rep is not None and session.get(Employee, rep) is None:
        raise Invalid(f"unknown account rep: {rep}")
    customer = Customer.model_validate(customer_in, update={"email": customer_in.email.lower()})
    session.add(customer)
    try:
        session.flush()
    except IntegrityError as exc:  # the same e-mail created meanwhile (a concurrent request)
        raise CustomerExistsError(
            f"a customer with e-mail {customer_in.email} already exists"
        ) from exc
    record(
        session,
        actor=actor,
        action="customer.create",
        entity="customer",
        entity_id=customer.id,
        after=snapshot(customer),
    )
    return customer


def set_password(*, session: Session, customer: Customer, password: str, actor: Actor) -> Customer:
    """Open (or reset) the customer's customer-center account with this password."""
    if len(password) < 8:
        raise ValueError("a customer-center password needs at least 8 characters")
    opened = customer.password_hash is not None
    customer.password_hash = hash_password(password)
    session.add(customer)
    session.flush()
    # The password itself is never logged: only that the account was opened or reset.
    record(
        session,
        actor=actor,
        action="customer.password_reset" if opened else "customer.account_open",
        entity="customer",
        entity_id=customer.id,
        before={"account": opened},
        after={"account": True},
    )
    return customer


def replace_password_hash(
    *, session: Session, customer_id: int, expected: str, password_hash: str
) -> bool:
    """Store a rehash of the same password, unless the password changed meanwhile."""
    customer = get(session=session, customer_id=customer_id)
    if customer is None or customer.password_hash != expected:
        return False
    customer.password_hash = password_hash
    session.add(customer)
    session.flush()
    return True
