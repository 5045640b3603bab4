"""Customer self-service: the customer's own addresses, contacts and password."""

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session

from api.deps import ReadSessionDep, StateDep
from conveyor.core.errors import DomainError, Invalid, NotFound
from conveyor.core.models import row_id
from conveyor.core.security import hash_password, verify_password
from conveyor.core.state import in_session
from conveyor.customer import addresses as address_service
from conveyor.customer import service as customer_service
from conveyor.customer.models import (
    Customer,
    CustomerAddress,
    CustomerAddressCreate,
    CustomerAddressUpdate,
    CustomerContact,
    CustomerContactCreate,
)
from conveyor.pages.auth import MIN_PASSWORD_LENGTH, _hashing, _safe_next, redirect
from conveyor.pages.web import (
    SESSION_MAX_AGE_SECONDS,
    CsrfChecked,
    CustomerDep,
    WebSession,
    WebSessionDep,
    page_refusal,
    page_router,
    render,
)
from conveyor.shop import account as account_service
from conveyor.shop.flows import customer_actor

router = page_router()
ACCOUNT = "/customer/account"
T = TypeVar("T")


@router.get(ACCOUNT, include_in_schema=False)
def account(request: Request, session: ReadSessionDep, customer: CustomerDep) -> Response:
    """The customer's addresses, contacts and the password form."""
    return _page(request, session, customer)


def _page(
    request: Request,
    session: Session,
    customer: Customer,
    password_error: str | None = None,
    status_code: int = 200,
) -> Response:
    customer_id = row_id(customer)
    context = {
        "addresses": address_service.list_addresses(session=session, customer_id=customer_id),
        "contacts": address_service.list_contacts(session=session, customer_id=customer_id),
        "password_error": password_error,
        "page": "account",
    }
    return render(request, "account.html", context, customer=customer, status_code=status_code)


def _problems(exc: ValidationError) -> str:
    """A form's validation errors in words, field by field."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']).replace('_', ' ')}: {e['msg']}" for e in exc.errors()
    )


def _blank_to_none(values: dict[str, str]) -> dict[str, str | None]:
    return {k: (v.strip() or None) for k, v in values.items()}


async def _change(
    request: Request,
    state: StateDep,
    customer: Customer,
    web: WebSession,
    work: Callable[[Session, Customer], T],
    done: str,
    back: str = ACCOUNT,
) -> Response:
    """Run one change of the customer's own records; a flash says how it went."""

    def run(session: Session) -> T:
        fresh = customer_service.get(session=session, customer_id=row_id(customer))
        if fresh is None:
            raise NotFound("customer not found")
        return work(session, fresh)

    try:
        await in_session(state, run)
    except DomainError as exc:
        return page_refusal(request, exc, web=web, flash="Not saved", back=back, customer=customer)
    web.flash = done
    return redirect(request, back, web)


@router.post(ACCOUNT + "/addresses", include_in_schema=False, dependencies=[CsrfChecked])
async def add_address(
    request: Request,
    state: StateDep,
    customer: CustomerDep,
    web: WebSessionDep,
    kind: Annotated[str, Form(max_length=16)] = "shipping",
    name: Annotated[str, Form(max_length=200)] = "",
    line1: Annotated[str, Form(max_length=200)] = "",
    line2: Annotated[str, Form(max_length=200)] = "",
    city: Annotated[str, Form(max_length=100)] = "",
    region: Annotated[str, Form(max_length=100)] = "",
    postcode: Annotated[str, Form(max_length=20)] = "",
    country: Annotated[str, Form(max_length=2)] = "",
    is_default: Annotated[bool, Form()] = False,
    next: Annotated[str, Form(max_length=200)] = ACCOUNT,
) -> Response:
    """Add a billing or shipping address (the first of a kind becomes the default)."""
    back = _safe_next(next, ACCOUNT)
    fields = dict(name=name, line1=line1, line2=line2, city=city, region=region, postcode=postcode)
    try:
        address_in = CustomerAddressCreate.model_validate(
            {"kind": kind, "country": country, "is_default": is_default} | _blank_to_none(fields)
        )
    except ValidationError as exc:
        return page_refusal(
            request,
            Invalid(_problems(exc)),
            web=web,
            flash="Not saved",
            back=back,
            customer=customer,
        )
    actor = customer_actor(customer)
    return await _change(
        request,
        state,
        customer,
        web,
        lambda s, c: address_service.add_address(
            session=s, customer=c, address_in=address_in, actor=actor
        ),
        "The address is saved.",
        back,
    )


def _own_address(session: Session, customer: Customer, address_id: int) -> Any:
    return address_service.owned(
        session=session,
        model=CustomerAddress,
        customer_id=row_id(customer),
        row=address_id,
        active_only=True,
    )


@router.post(
    ACCOUNT + "/addresses/{address_id}/default", include_in_schema=False, dependencies=[CsrfChecked]
)
async def make_default(
    address_id: int, request: Request, state: StateDep, customer: CustomerDep, web: WebSessionDep
) -> Response:
    """Make this address the default of its kind."""
    actor = customer_actor(customer)
    return await _change(
        request,
        state,
        customer,
        web,
        lambda s, c: address_service.update_address(
            session=s,
            customer=c,
            address=_own_address(s, c, address_id),
            address_in=CustomerAddressUpdate(is_default=True),
            actor=actor,
        ),
        "The default address is changed.",
    )


@router.post(
    ACCOUNT + "/addresses/{address_id}/retire", include_in_schema=False, dependencies=[CsrfChecked]
)
async def retire_address(
    address_id: int, request: Request, state: StateDep, customer: CustomerDep, web: WebSessionDep
) -> Response:
    """Remove an address from the list (orders that name it keep it)."""
    actor = customer_actor(customer)
    return await _change(
        request,
        state,
        customer,
        web,
        lambda s, c: address_service.retire_address(
            session=s, customer=c, address=_own_address(s, c, address_id), actor=actor
        ),
        "The address is removed.",
    )


@router.post(ACCOUNT + "/contacts", include_in_schema=False, dependencies=[CsrfChecked])
async def add_contact(
    request: Request,
    state: StateDep,
    customer: CustomerDep,
    web: WebSessionDep,
    name: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    phone: Annotated[str, Form(max_length=40)] = "",
    role: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Add a person to talk to at the customer."""
    try:
        contact_in = CustomerContactCreate.model_validate(
            _blank_to_none({"name": name, "email": email, "phone": phone, "role": role})
        )
    except ValidationError as exc:
        return page_refusal(
            request,
            Invalid(_problems(exc)),
            web=web,
            flash="Not saved",
            back=ACCOUNT,
            customer=customer,
        )
    actor = customer_actor(customer)
    return await _change(
        request,
        state,
        customer,
        web,
        lambda s, c: address_service.add_contact(
            session=s, customer=c, contact_in=contact_in, actor=actor
        ),
        "The contact is saved.",
    )


@router.post(
    ACCOUNT + "/contacts/{contact_id}/retire", include_in_schema=False, dependencies=[CsrfChecked]
)
async def retire_contact(
    contact_id: int, request: Request, state: StateDep, customer: CustomerDep, web: WebSessionDep
) -> Response:
    """Remove a contact from the list."""
    actor = customer_actor(customer)

    def retire(session: Session, fresh: Customer) -> Any:
        contact = address_service.owned(
            session=session,
            model=CustomerContact,
            customer_id=row_id(fresh),
            row=contact_id,
            active_only=True,
        )
        return address_service.retire_contact(
            session=session, customer=fresh, contact=contact, actor=actor
        )

    return await _change(request, state, customer, web, retire, "The contact is removed.")


@router.post(ACCOUNT + "/password", include_in_schema=False, dependencies=[CsrfChecked])
async def change_password(
    request: Request,
    state: StateDep,
    customer: CustomerDep,
    web: WebSessionDep,
    current: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    confirm: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Change the password (the current one first); every other session of theirs ends."""
    stored = customer.password_hash or ""
    error = None
    if not await _hashing(request, verify_password, current, stored):
        error = "The current password is not right."
    elif len(password) < MIN_PASSWORD_LENGTH:
        error = f"The new password needs at least {MIN_PASSWORD_LENGTH} characters."
    elif password != confirm:
        error = "The two new passwords differ."
    if error is not None:
        return await in_session(
            state,
            lambda s: _page(request, s, customer, password_error=error, status_code=422),
            read_only=True,
        )
    hashed = await _hashing(request, hash_password, password)
    try:
        sid = await in_session(
            state,
            lambda s: account_service.change_password(
                session=s,
                customer_id=row_id(customer),
                expected_hash=stored,
                password_hash=hashed,
                lifetime=timedelta(seconds=SESSION_MAX_AGE_SECONDS),
            ),
        )
    except DomainError as exc:
        return page_refusal(request, exc, web=web, back=ACCOUNT, customer=customer)
    web.sid = sid  # this browser stays signed in under a new session; the others are out
    web.flash = "Your password is changed. You are signed out everywhere else."
    return redirect(request, ACCOUNT, web)
