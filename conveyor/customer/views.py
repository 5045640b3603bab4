"""Customer endpoints: create, read, edit, retire; addresses and contacts."""

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, HTTPException, status
from sqlmodel import Session

from api.deps import (
    Principal,
    ReadSessionDep,
    SessionDep,
    require,
)
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.customer import addresses as address_service
from conveyor.customer import service as customer_service
from conveyor.customer.models import (
    AddressKind,
    Customer,
    CustomerAddress,
    CustomerAddressCreate,
    CustomerAddressPublic,
    CustomerAddressUpdate,
    CustomerContact,
    CustomerContactCreate,
    CustomerContactPublic,
    CustomerContactUpdate,
    CustomerCreate,
    CustomerPublic,
    CustomerUpdate,
)

router = APIRouter()


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CustomerPublic)
def create_customer(
    customer_in: CustomerCreate,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.CUSTOMERS_EDIT)],
) -> CustomerPublic:
    """Create a customer account (admin)."""
    try:
        customer = customer_service.create(
            session=session, customer_in=customer_in, actor=principal.actor(Source.API)
        )
    except customer_service.CustomerExistsError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return CustomerPublic.model_validate(customer)


@router.get("/{customer_id}", response_model=CustomerPublic)
def read_customer(
    customer_id: int,
    session: ReadSessionDep,
    principal: Annotated[Principal, require(Permission.CUSTOMERS_VIEW)],
) -> CustomerPublic:
    """One customer (404 for one a sales rep below clearance 3 does not own)."""
    return CustomerPublic.model_validate(_visible(session, principal, customer_id))


def _visible(session: Session, principal: Principal, customer_id: int) -> Customer:
    """The customer, or 404 when missing or owned by another rep (the caller's record rule)."""
    customer = customer_service.get(session=session, customer_id=customer_id)
    rep = principal.own_accounts_only()
    if customer is None or (rep is not None and customer.account_rep_id != rep):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"customer {customer_id} not found")
    return customer


Editor = Annotated[Principal, require(Permission.CUSTOMERS_EDIT)]
Viewer = Annotated[Principal, require(Permission.CUSTOMERS_VIEW)]


@router.patch("/{customer_id}", response_model=CustomerPublic)
def update_customer(
    customer_id: int, customer_in: CustomerUpdate, session: SessionDep, principal: Editor
) -> CustomerPublic:
    """Change a customer's name, e-mail, group, country, credit limit, terms or account rep.

    409: the e-mail belongs to another customer, or the customer is retired.
    """
    customer = _visible(session, principal, customer_id)
    rep = principal.own_accounts_only()
    if (
        rep is not None
        and customer_in.account_rep_id != rep
        and ("account_rep_id" in customer_in.model_fields_set)
    ):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a sales rep cannot hand an account on")
    customer = customer_service.update(
        session=session,
        customer=customer,
        customer_in=customer_in,
        actor=principal.actor(Source.API),
    )
    return CustomerPublic.model_validate(customer)


@router.post("/{customer_id}/retire", response_model=CustomerPublic)
def retire_customer(customer_id: int, session: SessionDep, principal: Editor) -> CustomerPublic:
    """Retire a customer: kept for its history, it places no new orders (409: already retired)."""
    customer = customer_service.retire(
        session=session,
        customer=_visible(session, principal, customer_id),
        actor=principal.actor(Source.API),
    )
    return CustomerPublic.model_validate(customer)


@router.get("/{customer_id}/addresses", response_model=list[CustomerAddressPublic])
def list_addresses(
    customer_id: int,
    session: ReadSessionDep,
    principal: Viewer,
    kind: AddressKind | None = None,
    include_retired: bool = False,
) -> Sequence[CustomerAddressPublic]:
    """The customer's addresses, defaults first (retired ones only when asked)."""
    _visible(session, principal, customer_id)
    rows = address_service.list_addresses(
        session=session, customer_id=customer_id, kind=kind, include_retired=include_retired
    )
    return [CustomerAddressPublic.model_validate(row) for row in rows]


@router.post(
    "/{customer_id}/addresses",
    status_code=status.HTTP_201_CREATED,
    response_model=CustomerAddressPublic,
)
def add_address(
    customer_id: int, address_in: CustomerAddressCreate, session: SessionDep, principal: Editor
) -> CustomerAddressPublic:
    """Add a billing or shipping address (the first of its kind becomes the default)."""
    address = address_service.add_address(
        session=session,
        customer=_visible(session, principal, customer_id),
        address_in=address_in,
        actor=principal.actor(Source.API),
    )
    return CustomerAddressPublic.model_validate(address)


@router.patch("/{customer_id}/addresses/{address_id}", response_model=CustomerAddressPublic)
def update_address(
    customer_id: int,
    address_id: int,
    address_in: CustomerAddressUpdate,
    session: SessionDep,
    principal: Editor,
) -> CustomerAddressPublic:
    """Change an address; `is_default: true` makes it the default of its kind."""
    customer = _visible(session, principal, customer_id)
    address = address_service.update_address(
        session=session,
        customer=customer,
        address=address_service.owned(
            session=session, model=CustomerAddress, customer_id=customer_id, row=address_id
        ),
        address_in=address_in,
        actor=principal.actor(Source.API),
    )
    return CustomerAddressPublic.model_validate(address)


@router.post("/{customer_id}/addresses/{address_id}/retire", response_model=CustomerAddressPublic)
def retire_address(
    customer_id: int, address_id: int, session: SessionDep, principal: Editor
) -> CustomerAddressPublic:
    """Retire an address (kept for the orders that name it)."""
    customer = _visible(session, principal, customer_id)
    address = address_service.retire_address(
        session=session,
        customer=customer,
        address=address_service.owned(
            session=session, model=CustomerAddress, customer_id=customer_id, row=address_id
        ),
        actor=principal.actor(Source.API),
    )
    return CustomerAddressPublic.model_validate(address)


@router.get("/{customer_id}/contacts", response_model=list[CustomerContactPublic])
def list_contacts(
    customer_id: int, session: ReadSessionDep, principal: Viewer, include_retired: bool = False
) -> Sequence[CustomerContactPublic]:
    """The customer's contacts (retired ones only when asked)."""
    _visible(session, principal, customer_id)
    rows = address_service.list_contacts(
        session=session, customer_id=customer_id, include_retired=include_retired
    )
    return [CustomerContactPublic.model_validate(row) for row in rows]


@router.post(
    "/{customer_id}/contacts",
    status_code=status.HTTP_201_CREATED,
    response_model=CustomerContactPublic,
)
def add_contact(
    customer_id: int, contact_in: CustomerContactCreate, session: SessionDep, principal: Editor
) -> CustomerContactPublic:
    """Add a contact person."""
    contact = address_service.add_contact(
        session=session,
        customer=_visible(session, principal, customer_id),
        contact_in=contact_in,
        actor=principal.actor(Source.API),
    )
    return CustomerContactPublic.model_validate(contact)


@router.patch("/{customer_id}/contacts/{contact_id}", response_model=CustomerContactPublic)
def update_contact(
    customer_id: int,
    contact_id: int,
    contact_in: CustomerContactUpdate,
    session: SessionDep,
    principal: Editor,
) -> CustomerContactPublic:
    """Change a contact's name, e-mail, phone or role."""
    customer = _visible(session, principal, customer_id)
    contact = address_service.update_contact(
        session=session,
        customer=customer,
        contact=address_service.owned(
            session=session, model=CustomerContact, customer_id=customer_id, row=contact_id
        ),
        contact_in=contact_in,
        actor=principal.actor(Source.API),
    )
    return CustomerContactPublic.model_validate(contact)


@router.post("/{customer_id}/contacts/{contact_id}/retire", response_model=CustomerContactPublic)
def retire_contact(
    customer_id: int, contact_id: int, session: SessionDep, principal: Editor
) -> CustomerContactPublic:
    """Retire a contact (kept for history)."""
    customer = _visible(session, principal, customer_id)
    contact = address_service.retire_contact(
        session=session,
        customer=customer,
        contact=address_service.owned(
            session=session, model=CustomerContact, customer_id=customer_id, row=contact_id
        ),
        actor=principal.actor(Source.API),
    )
    return CustomerContactPublic.model_validate(contact)
