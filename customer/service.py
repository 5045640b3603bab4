"""Customer operations."""

from sqlmodel import Session, select

from customer.models import Customer, CustomerCreate


class CustomerExistsError(Exception):
    """A customer with that e-mail already exists."""


def get(*, session: Session, customer_id: int) -> Customer | None:
    """The customer with that id, or None."""
    return session.get(Customer, customer_id)


def get_by_email(*, session: Session, email: str) -> Customer | None:
    """The customer with that e-mail (case-insensitive), or None."""
    return session.exec(select(Customer).where(Customer.email == email.lower())).first()


def create(*, session: Session, customer_in: CustomerCreate) -> Customer:
    """Create a customer; the e-mail must be new."""
    if get_by_email(session=session, email=customer_in.email):
        raise CustomerExistsError(f"a customer with e-mail {customer_in.email} already exists")
    customer = Customer.model_validate(customer_in, update={"email": customer_in.email.lower()})
    session.add(customer)
    session.flush()
    return customer
