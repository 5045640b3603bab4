"""A customer's billing and shipping addresses and contacts: list, add, change, retire (audited).

Nothing here is deleted: orders and invoices may name an address, so it is retired instead and
leaves the lists. Each kind of address has at most one default among the active ones; the first
address of a kind becomes the default, and retiring the default promotes the oldest other one.
Every change writes an audit entry on the customer (entity `customer`) in the caller's
transaction, so the customer's history shows it; the caller commits.
"""

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlmodel import Session, col, select

from conveyor.audit.service import Actor, changed, record, snapshot
from conveyor.core.errors import Conflict, NotFound
from conveyor.core.models import row_id, utcnow
from conveyor.customer import service as customer_service
from conveyor.customer.models import (
    AddressKind,
    Customer,
    CustomerAddress,
    CustomerAddressCreate,
    CustomerAddressUpdate,
    CustomerContact,
    CustomerContactCreate,
    CustomerContactUpdate,
)

# How many active addresses and contacts one customer may have (input from outside is bounded).
MAX_ADDRESSES = 50
MAX_CONTACTS = 50
# The fields an address's or contact's audit entries show.
_ADDRESS_FIELDS = (
    "kind",
    "name",
    "line1",
    "line2",
    "city",
    "region",
    "postcode",
    "country",
    "is_default",
)
_CONTACT_FIELDS = ("name", "email", "phone", "role")
Owned = TypeVar("Owned", CustomerAddress, CustomerContact)


def _audit(
    session: Session, *, actor: Actor, action: str, customer_id: int, before: Any, after: Any
) -> None:
    record(
        session,
        actor=actor,
        action=action,
        entity="customer",
        entity_id=customer_id,
        before=before,
        after=after,
    )


def _owned(session: Session, model: type[Owned], customer_id: int, row: int) -> Owned | None:
    """That address or contact if it belongs to that customer (retired or not), else None."""
    found = session.get(model, row)
    return found if found is not None and found.customer_id == customer_id else None


def owned(
    *, session: Session, model: type[Owned], customer_id: int, row: int, active_only: bool = False
) -> Owned:
    """That address or contact of that customer; NotFound when it is not theirs (someone else's
    looks missing) or, with `active_only`, is retired."""
    found = _owned(session, model, customer_id, row)
    if found is None or (active_only and found.retired_at is not None):
        noun = "address" if model is CustomerAddress else "contact"
        raise NotFound(f"{noun} {row} not found")
    return found


# --- addresses -------------------------------------------------------------------------------


def list_addresses(
    *,
    session: Session,
    customer_id: int,
    kind: AddressKind | None = None,
    include_retired: bool = False,
) -> Sequence[CustomerAddress]:
    """The customer's addresses (active ones unless `include_retired`), defaults first."""
    query = select(CustomerAddress).where(CustomerAddress.customer_id == customer_id)
    if kind is not None:
        query = query.where(CustomerAddress.kind == kind.value)
    if not include_retired:
        query = query.where(col(CustomerAddress.retired_at).is_(None))
    order = (col(CustomerAddress.kind), col(CustomerAddress.is_default).desc())
    return session.exec(query.order_by(*order, col(CustomerAddress.id))).all()


def get_address(*, session: Session, customer_id: int, address_id: int) -> CustomerAddress | None:
    """That address if it belongs to that customer (retired or not), else None."""
    return _owned(session, CustomerAddress, customer_id, address_id)


def default_address(
    *, session: Session, customer_id: int, kind: AddressKind
) -> CustomerAddress | None:
    """The customer's default active address of this kind (or its oldest one), or None."""
    addresses = list_addresses(session=session, customer_id=customer_id, kind=kind)
    return addresses[0] if addresses else None


def default_shipping_address(*, session: Session, customer_id: int) -> CustomerAddress | None:
    """Where the customer's goods go unless an order says otherwise."""
    return default_address(session=session, customer_id=customer_id, kind=AddressKind.SHIPPING)


def default_billing_address(*, session: Session, customer_id: int) -> CustomerAddress | None:
    """The address on the customer's invoices."""
    return default_address(session=session, customer_id=customer_id, kind=AddressKind.BILLING)


def _clear_other_defaults(session: Session, address: CustomerAddress) -> None:
    others = session.exec(
        select(CustomerAddress)
        .where(CustomerAddress.customer_id == address.customer_id)
        .where(CustomerAddress.kind == address.kind)
        .where(col(CustomerAddress.is_default).is_(True))
        .where(col(CustomerAddress.id) != address.id)
    ).all()
    for other in others:
        other.is_default = False
        session.add(other)


def add_address(
    *, session: Session, customer: Customer, address_in: CustomerAddressCreate, actor: Actor
) -> CustomerAddress:
    """Add an address; the first of its kind (or one marked `is_default`) becomes the default."""
    customer_service.refuse_if_retired(customer, "change addresses or contacts")
    customer_id = row_id(customer)
    active = list_addresses(session=session, customer_id=customer_id)
    if len(active) >= MAX_ADDRESSES:
        raise Conflict(f"a customer keeps at most {MAX_ADDRESSES} addresses; retire one first")
    first = not any(a.kind == address_in.kind.value for a in active)
    address = CustomerAddress.model_validate(
        address_in,
        update={
            "customer_id": customer_id,
            "kind": address_in.kind.value,
            "is_default": address_in.is_default or first,
        },
    )
    session.add(address)
    session.flush()
    if address.is_default:
        _clear_other_defaults(session, address)
    _audit(
        session,
        actor=actor,
        action="customer.address_add",
        customer_id=customer_id,
        before=None,
        after={"address_id": address.id, **snapshot(address, _ADDRESS_FIELDS)},
    )
    session.flush()
    return address


def update_address(
    *,
    session: Session,
    customer: Customer,
    address: CustomerAddress,
    address_in: CustomerAddressUpdate,
    actor: Actor,
) -> CustomerAddress:
    """Change the given fields; making it the default unsets the kind's other default."""
    customer_service.refuse_if_retired(customer, "change addresses or contacts")
    if address.retired_at is not None:
        raise Conflict(f"address {address.id} is retired")
    before = snapshot(address, _ADDRESS_FIELDS)
    changes = address_in.model_dump(exclude_unset=True)
    if changes.get("is_default") is False and address.is_default:
        raise Conflict("make another address the default instead of unsetting this one")
    for field, value in changes.items():
        if value is None and field in ("name", "line1", "city", "country", "is_default"):
            continue  # required fields: null means "leave as is", never "erase"
        setattr(address, field, value)
    session.add(address)
    if address.is_default:
        _clear_other_defaults(session, address)
    old, new = changed(before, snapshot(address, _ADDRESS_FIELDS))
    if new:
        _audit(
            session,
            actor=actor,
            action="customer.address_update",
            customer_id=row_id(customer),
            before={"address_id": address.id, **old},
            after={"address_id": address.id, **new},
        )
    session.flush()
    return address


def retire_address(
    *, session: Session, customer: Customer, address: CustomerAddress, actor: Actor
) -> CustomerAddress:
    """Retire an address (kept for history); the kind's oldest other address becomes default."""
    if address.retired_at is not None:
        return address
    was_default = address.is_default
    address.retired_at = utcnow()
    address.is_default = False
    session.add(address)
    session.flush()
    promoted = None
    if was_default:
        promoted = default_address(
            session=session, customer_id=address.customer_id, kind=AddressKind(address.kind)
        )
        if promoted is not None:
            promoted.is_default = True
            session.add(promoted)
    _audit(
        session,
        actor=actor,
        action="customer.address_retire",
        customer_id=row_id(customer),
        before={"address_id": address.id, "retired": False, "is_default": was_default},
        after={
            "address_id": address.id,
            "retired": True,
            "new_default_id": promoted.id if promoted else None,
        },
    )
    session.flush()
    return address


# --- contacts --------------------------------------------------------------------------------


def list_contacts(
    *, session: Session, customer_id: int, include_retired: bool = False
) -> Sequence[CustomerContact]:
    """The customer's contacts (active ones unless `include_retired`), oldest first."""
    query = select(CustomerContact).where(CustomerContact.customer_id == customer_id)
    if not include_retired:
        query = query.where(col(CustomerContact.retired_at).is_(None))
    return session.exec(query.order_by(col(CustomerContact.id))).all()


def get_contact(*, session: Session, customer_id: int, contact_id: int) -> CustomerContact | None:
    """That contact if it belongs to that customer (retired or not), else None."""
    return _owned(session, CustomerContact, customer_id, contact_id)


def add_contact(
    *, session: Session, customer: Customer, contact_in: CustomerContactCreate, actor: Actor
) -> CustomerContact:
    """Add a contact person to the customer."""
    customer_service.refuse_if_retired(customer, "change addresses or contacts")
    customer_id = row_id(customer)
    if len(list_contacts(session=session, customer_id=customer_id)) >= MAX_CONTACTS:
        raise Conflict(f"a customer keeps at most {MAX_CONTACTS} contacts; retire one first")
    email = contact_in.email.lower() if contact_in.email else None
    contact = CustomerContact.model_validate(
        contact_in, update={"customer_id": customer_id, "email": email}
    )
    session.add(contact)
    session.flush()
    _audit(
        session,
        actor=actor,
        action="customer.contact_add",
        customer_id=customer_id,
        before=None,
        after={"contact_id": contact.id, **snapshot(contact, _CONTACT_FIELDS)},
    )
    return contact


def update_contact(
    *,
    session: Session,
    customer: Customer,
    contact: CustomerContact,
    contact_in: CustomerContactUpdate,
    actor: Actor,
) -> CustomerContact:
    """Change the given fields of a contact (null clears e-mail, phone or role)."""
    customer_service.refuse_if_retired(customer, "change addresses or contacts")
    if contact.retired_at is not None:
        raise Conflict(f"contact {contact.id} is retired")
    before = snapshot(contact, _CONTACT_FIELDS)
    for field, value in contact_in.model_dump(exclude_unset=True).items():
        if field == "name" and value is None:
            continue
        setattr(contact, field, value.lower() if field == "email" and value else value)
    session.add(contact)
    old, new = changed(before, snapshot(contact, _CONTACT_FIELDS))
    if new:
        _audit(
            session,
            actor=actor,
            action="customer.contact_update",
            customer_id=row_id(customer),
            before={"contact_id": contact.id, **old},
            after={"contact_id": contact.id, **new},
        )
    session.flush()
    return contact


def retire_contact(
    *, session: Session, customer: Customer, contact: CustomerContact, actor: Actor
) -> CustomerContact:
    """Retire a contact (kept for history)."""
    if contact.retired_at is not None:
        return contact
    contact.retired_at = utcnow()
    session.add(contact)
    _audit(
        session,
        actor=actor,
        action="customer.contact_retire",
        customer_id=row_id(customer),
        before={"contact_id": contact.id, "retired": False},
        after={"contact_id": contact.id, "retired": True},
    )
    session.flush()
    return contact
