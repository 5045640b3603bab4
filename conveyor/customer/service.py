"""Customer operations."""

import hashlib
import hmac
import secrets

from sqlmodel import Session, select

from conveyor.customer.models import Customer, CustomerCreate


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


PBKDF2_ROUNDS = 200_000


def _hash_password(password: str, salt: str) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), PBKDF2_ROUNDS)
    return digest.hex()


def set_password(*, session: Session, customer: Customer, password: str) -> Customer:
    """Open (or reset) the customer's customer-center account with this password."""
    if len(password) < 8:
        raise ValueError("a customer-center password needs at least 8 characters")
    salt = secrets.token_hex(16)
    customer.password_hash = f"pbkdf2${PBKDF2_ROUNDS}${salt}${_hash_password(password, salt)}"
    session.add(customer)
    session.flush()
    return customer


def authenticate(*, session: Session, email: str, password: str) -> Customer | None:
    """The customer with this e-mail and customer-center password, or None."""
    customer = get_by_email(session=session, email=email.strip())
    if customer is None or not customer.password_hash:
        _hash_password(password, "timing")  # same work either way: no e-mail probing by timing
        return None
    _, _, salt, expected = customer.password_hash.split("$", 3)
    if not hmac.compare_digest(_hash_password(password, salt), expected):
        return None
    return customer
