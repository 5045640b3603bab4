"""Customer endpoints."""

from fastapi import APIRouter, HTTPException, status

from api.deps import AdminPrincipal, CurrentPrincipal, ReadSessionDep, SessionDep
from conveyor.customer import service as customer_service
from conveyor.customer.models import CustomerCreate, CustomerPublic

router = APIRouter()


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CustomerPublic)
def create_customer(
    customer_in: CustomerCreate, session: SessionDep, _: AdminPrincipal
) -> CustomerPublic:
    """Create a customer account (admin)."""
    try:
        customer = customer_service.create(session=session, customer_in=customer_in)
    except customer_service.CustomerExistsError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return CustomerPublic.model_validate(customer)


@router.get("/{customer_id}", response_model=CustomerPublic)
def read_customer(customer_id: int, session: ReadSessionDep, _: CurrentPrincipal) -> CustomerPublic:
    """One customer."""
    customer = customer_service.get(session=session, customer_id=customer_id)
    if customer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"customer {customer_id} not found")
    return CustomerPublic.model_validate(customer)
