"""Customer endpoints."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, status

from api.deps import (
    Principal,
    ReadSessionDep,
    SessionDep,
    require,
)
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.customer import service as customer_service
from conveyor.customer.models import CustomerCreate, CustomerPublic

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
    customer = customer_service.get(session=session, customer_id=customer_id)
    rep = principal.own_accounts_only()
    if customer is None or (rep is not None and customer.account_rep_id != rep):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"customer {customer_id} not found")
    return CustomerPublic.model_validate(customer)
