"""Customer operations: create, edit, retire, customer-center passwords, payment terms."""

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from conveyor.audit.service import Actor, changed, record, snapshot
from conveyor.core.errors import Conflict, Invalid
from conveyor.core.models import row_id, utcnow
from conveyor.core.security import hash_password
from conveyor.customer.models import Customer, CustomerCreate, CustomerUpdate
from conveyor.employee.models import Employee
from conveyor.terms import service as terms_service

# What a customer's audit entries show (never the password hash).
AUDIT_FIELDS = (
    "name",
    "email",
    "group",
    "country",
    "credit_limit",
    "payment_terms_days",
    "payment_terms_code",
    "account_rep_id",
    "email_verified",
    "retired_at",
)


class CustomerExistsError(Conflict):
    """A customer with that e-mail already exists."""


class CustomerRetiredError(Conflict):
    """The customer is retired: kept for its history, but it takes no new orders or changes."""

    def __init__(self, customer: Customer, refused: str = "place new orders") -> None:
        super().__init__(f"customer {customer.id} ({customer.name}) is retired: cannot {refused}")


def get(*, session: Session, customer_id: int) -> Customer | None:
    """The customer with that id, or None."""
    return session.get(Customer, customer_id)


def get_many(*, session: Session, ids: set[int]) -> dict[int, Customer]:
    """The customers with these ids (by id), in one query."""
    if not ids:
        return {}
    found = session.exec(select(Customer).where(col(Customer.id).in_(sorted(ids)))).all()
    return {c.id: c for c in found if c.id is not None}


def get_by_email(*, session: Session, email: str) -> Customer | None:
    """The customer with that e-mail (case-insensitive), or None."""
    return session.exec(select(Customer).where(Customer.email == email.lower())).first()


def find(*, session: Session, text: str) -> Customer | None:
    """The customer `text` names: their number, e-mail or exact name (any case); None when
    none or, for a name, more than one matches."""
    text = text.strip()
    if text.isdigit():
        return get(session=session, customer_id=int(text))
    if "@" in text:
        return get_by_email(session=session, email=text)
    named = session.exec(
        select(Customer).where(func.lower(col(Customer.name)) == text.lower()).limit(2)
    ).all()
    return named[0] if len(named) == 1 else None


def create(*, session: Session, customer_in: CustomerCreate, actor: Actor) -> Customer:
    """Create a customer; the e-mail must be new."""
    if get_by_email(session=session, email=customer_in.email):
        raise CustomerExistsError(f"a customer with e-mail {customer_in.email} already exists")
    _check_rep(session, customer_in.account_rep_id)
    fixed: dict[str, object] = {"email": customer_in.email.lower()}
    if customer_in.payment_terms_code:
        terms = terms_service.usable(session=session, code=customer_in.payment_terms_code)
        fixed |= {"payment_terms_code": terms.code, "payment_terms_days": terms.net_days}
    customer = Customer.model_validate(customer_in, update=fixed)
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


def _check_rep(session: Session, rep: int | None) -> None:
    if rep is None:
        return
    employee = session.get(Employee, rep)
    if employee is None:
        raise Invalid(f"unknown account rep: {rep}")
    if not employee.active:
        raise Invalid(f"account rep {rep} is not an active employee")


def refuse_if_retired(customer: Customer, refused: str = "place new orders") -> None:
    """Raise CustomerRetiredError for a retired customer (no new orders, no changes)."""
    if customer.retired_at is not None:
        raise CustomerRetiredError(customer, refused)


def update(
    *, session: Session, customer: Customer, customer_in: CustomerUpdate, actor: Actor
) -> Customer:
    """Change the given fields; a new e-mail must be free and is no longer verified."""
    refuse_if_retired(customer, "be changed")
    before = snapshot(customer, AUDIT_FIELDS)
    changes = customer_in.model_dump(exclude_unset=True)
    for field in ("name", "email", "group", "country", "credit_limit", "payment_terms_days"):
        if field in changes and changes[field] is None:
            raise Invalid(f"{field} cannot be empty")
    if "account_rep_id" in changes:
        _check_rep(session, changes["account_rep_id"])
    if changes.get("payment_terms_code"):
        # A template's net days are the customer's days, so both ways of reading them agree.
        terms = terms_service.usable(session=session, code=changes["payment_terms_code"])
        changes |= {"payment_terms_code": terms.code, "payment_terms_days": terms.net_days}
    elif "payment_terms_code" in changes:
        changes["payment_terms_code"] = None
    elif changes.get("payment_terms_days") not in (None, customer.payment_terms_days):
        changes["payment_terms_code"] = None  # days of its own: the template no longer applies
    email = changes.get("email")
    if email is not None:
        changes["email"] = email = email.lower()
        if email != customer.email:
            taken = get_by_email(session=session, email=email)
            if taken is not None and taken.id != customer.id:
                raise CustomerExistsError(f"a customer with e-mail {email} already exists")
            # A store matches orders to a verified e-mail: a changed one has to be verified anew.
            changes["email_verified"] = False
    for field, value in changes.items():
        setattr(customer, field, value)
    session.add(customer)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:  # the e-mail taken meanwhile (a concurrent request)
        raise CustomerExistsError(f"a customer with e-mail {email} already exists") from exc
    old, new = changed(before, snapshot(customer, AUDIT_FIELDS))
    if new:
        record(
            session,
            actor=actor,
            action="customer.update",
            entity="customer",
            entity_id=customer.id,
            before=old,
            after=new,
        )
    return customer


def retire(*, session: Session, customer: Customer, actor: Actor) -> Customer:
    """Retire the customer: it stays for its orders and invoices but places no new orders."""
    refuse_if_retired(customer, "be retired again")
    customer.retired_at = utcnow()
    session.add(customer)
    session.flush()
    record(
        session,
        actor=actor,
        action="customer.retire",
        entity="customer",
        entity_id=row_id(customer),
        before={"retired_at": None},
        after={"retired_at": customer.retired_at},
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
