"""Payment terms templates kept up to date, and the terms that apply to a customer's invoice."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from conveyor.audit.service import Actor, changed, record, snapshot
from conveyor.core.errors import Conflict, Invalid
from conveyor.core.models import round_money, utcnow
from conveyor.core.patch import merged
from conveyor.customer.models import Customer
from conveyor.terms.models import PaymentTerms, PaymentTermsCreate, PaymentTermsUpdate

DEFAULT_NET_DAYS = 30
FIELDS = ["code", "name", "net_days", "discount_percent", "discount_days", "deposit_percent"]


class TermsExistsError(Conflict):
    """Payment terms with that code already exist."""


@dataclass(frozen=True)
class Terms:
    """The terms an invoice is issued under: a template's, or only net days (no template)."""

    net_days: int
    code: str | None = None
    discount_percent: Decimal | None = None
    discount_days: int | None = None
    deposit_percent: Decimal | None = None

    def due_at(self, issued_at: datetime) -> datetime:
        """When an invoice issued then falls due."""
        return issued_at + timedelta(days=self.net_days)

    def discount(self, issued_at: datetime, total: Decimal) -> tuple[datetime, Decimal] | None:
        """The last moment and amount of the early-payment discount on that invoice (None:
        no discount under these terms, or nothing to discount)."""
        if not self.discount_percent or self.discount_days is None or total <= 0:
            return None
        amount = round_money(total * self.discount_percent / 100)
        if amount <= 0:
            return None
        return issued_at + timedelta(days=self.discount_days), amount

    def deposit(self, total: Decimal) -> Decimal | None:
        """The deposit due before fulfilment on an order of `total` (None: no deposit)."""
        if not self.deposit_percent or total <= 0:
            return None
        return round_money(total * self.deposit_percent / 100)


def describe(
    *,
    net_days: int,
    discount_percent: Decimal | None = None,
    discount_days: int | None = None,
    deposit_percent: Decimal | None = None,
) -> str:
    """Terms in words: `30 days net, 2% if paid within 7 days, 25% deposit`."""
    parts = ["payment in advance" if net_days == 0 else f"{net_days} days net"]
    if discount_percent and discount_days is not None:
        parts.append(f"{discount_percent.normalize():f}% if paid within {discount_days} days")
    if deposit_percent:
        parts.append(f"{deposit_percent.normalize():f}% deposit")
    return ", ".join(parts)


def describe_terms(terms: PaymentTerms | Terms) -> str:
    """`describe` of a template or of resolved terms."""
    return describe(
        net_days=terms.net_days,
        discount_percent=terms.discount_percent,
        discount_days=terms.discount_days,
        deposit_percent=terms.deposit_percent,
    )


def get_by_code(*, session: Session, code: str) -> PaymentTerms | None:
    """The template with that code (any case), or None."""
    return session.exec(select(PaymentTerms).where(PaymentTerms.code == code.upper())).first()


def usable(*, session: Session, code: str) -> PaymentTerms:
    """The template with that code still offered; Invalid when unknown or retired."""
    terms = get_by_code(session=session, code=code)
    if terms is None:
        raise Invalid(f"unknown payment terms {code[:16]}")
    if terms.retired_at is not None:
        raise Invalid(f"payment terms {terms.code} are retired; choose terms in use")
    return terms


def list_all(*, session: Session, retired: bool | None = None) -> list[PaymentTerms]:
    """Templates by code (`retired`: only those, or only the others; None: all)."""
    query = select(PaymentTerms)
    if retired is not None:
        retired_at = col(PaymentTerms.retired_at)
        query = query.where(retired_at.is_not(None) if retired else retired_at.is_(None))
    return list(session.exec(query.order_by(col(PaymentTerms.code))))


def for_customer(*, session: Session, customer: Customer | None) -> Terms:
    """The customer's terms: their template, else their payment-terms days (no template)."""
    if customer is None:
        return Terms(net_days=DEFAULT_NET_DAYS)
    template = (
        get_by_code(session=session, code=customer.payment_terms_code)
        if customer.payment_terms_code
        else None
    )
    if template is None:
        return Terms(net_days=customer.payment_terms_days)
    return Terms(
        net_days=template.net_days,
        code=template.code,
        discount_percent=template.discount_percent,
        discount_days=template.discount_days,
        deposit_percent=template.deposit_percent,
    )


def create(*, session: Session, terms_in: PaymentTermsCreate, actor: Actor) -> PaymentTerms:
    """Add a terms template (its code unique)."""
    exists = TermsExistsError(f"payment terms {terms_in.code} already exist")
    if get_by_code(session=session, code=terms_in.code):
        raise exists
    terms = PaymentTerms.model_validate(terms_in)
    try:
        with session.begin_nested():
            session.add(terms)
            session.flush()
    except IntegrityError as exc:  # created concurrently
        raise exists from exc
    record(
        session,
        actor=actor,
        action="payment_terms.create",
        entity="payment_terms",
        entity_id=terms.code,
        after=snapshot(terms, FIELDS),
    )
    return terms


def update(
    *, session: Session, terms: PaymentTerms, changes: PaymentTermsUpdate, actor: Actor
) -> PaymentTerms:
    """Change a template, checked as a new one would be; its customers' net days follow.

    Invoices already issued keep the due date and discount they were issued with.
    """
    if terms.retired_at is not None:
        raise Conflict(f"payment terms {terms.code} are retired")
    before = snapshot(terms, FIELDS)
    result = merged(PaymentTermsCreate, before, changes.model_dump(exclude_unset=True))
    terms.sqlmodel_update(result.model_dump(exclude={"code"}))
    session.add(terms)
    session.flush()
    following = []
    customers = session.exec(select(Customer).where(Customer.payment_terms_code == terms.code))
    for customer in customers:
        if customer.payment_terms_days != terms.net_days:
            customer.payment_terms_days = terms.net_days
            session.add(customer)
            following.append(customer.id)
    session.flush()
    old, new = changed(before, snapshot(terms, FIELDS))
    if following:  # the customers whose days changed with it, in the same entry
        new["customers_net_days_changed"] = following
    record(
        session,
        actor=actor,
        action="payment_terms.update",
        entity="payment_terms",
        entity_id=terms.code,
        before=old,
        after=new,
    )
    return terms


def retire(*, session: Session, terms: PaymentTerms, actor: Actor) -> PaymentTerms:
    """Retire a template; Conflict while active customers still have it."""
    if terms.retired_at is not None:
        raise Conflict(f"payment terms {terms.code} were already retired")
    users = session.exec(
        select(Customer.name)
        .where(Customer.payment_terms_code == terms.code)
        .where(col(Customer.retired_at).is_(None))
        .order_by(col(Customer.id))
    ).all()
    if users:
        more = f" and {len(users) - 3} more" if len(users) > 3 else ""
        raise Conflict(
            f"payment terms {terms.code} cannot be retired: customers have them: "
            f"{', '.join(users[:3])}{more}"
        )
    terms.retired_at = utcnow()
    session.add(terms)
    session.flush()
    record(
        session,
        actor=actor,
        action="payment_terms.retire",
        entity="payment_terms",
        entity_id=terms.code,
        after={"retired_at": terms.retired_at},
    )
    return terms
