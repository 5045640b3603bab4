"""Payment terms endpoints: list, read, create, change and retire terms templates."""

from typing import Annotated

from fastapi import APIRouter, status
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep, SessionDep, require
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.core.errors import NotFound
from conveyor.terms import service as terms_service
from conveyor.terms.models import (
    PaymentTerms,
    PaymentTermsCreate,
    PaymentTermsPublic,
    PaymentTermsUpdate,
)

router = APIRouter()


def public(terms: PaymentTerms) -> PaymentTermsPublic:
    """The template as the API shows it, with its terms in words."""
    return PaymentTermsPublic.model_validate(
        terms, update={"description": terms_service.describe_terms(terms)}
    )


def _load(session: Session, code: str) -> PaymentTerms:
    terms = terms_service.get_by_code(session=session, code=code)
    if terms is None:
        raise NotFound(f"unknown payment terms {code[:16]}")
    return terms


@router.get("", response_model=list[PaymentTermsPublic])
def list_terms(
    session: ReadSessionDep, _: Annotated[Principal, require(Permission.CUSTOMERS_VIEW)]
) -> list[PaymentTermsPublic]:
    """Every terms template, by code (retired ones too, with `retired_at`)."""
    return [public(t) for t in terms_service.list_all(session=session)]


@router.get("/{code}", response_model=PaymentTermsPublic)
def read_terms(
    code: str, session: ReadSessionDep, _: Annotated[Principal, require(Permission.CUSTOMERS_VIEW)]
) -> PaymentTermsPublic:
    """One terms template."""
    return public(_load(session, code))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PaymentTermsPublic)
def create_terms(
    terms_in: PaymentTermsCreate,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.PRICES_MANAGE)],
) -> PaymentTermsPublic:
    """Add a terms template (admin); 409 when the code is taken."""
    terms = terms_service.create(
        session=session, terms_in=terms_in, actor=principal.actor(Source.API)
    )
    return public(terms)


@router.patch("/{code}", response_model=PaymentTermsPublic)
def update_terms(
    code: str,
    changes: PaymentTermsUpdate,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.PRICES_MANAGE)],
) -> PaymentTermsPublic:
    """Change a template (the code stays), checked as a new one (422); its customers' net
    days follow; invoices already issued keep theirs. 409 when retired."""
    terms = terms_service.update(
        session=session,
        terms=_load(session, code),
        changes=changes,
        actor=principal.actor(Source.API),
    )
    return public(terms)


@router.post("/{code}/retire", response_model=PaymentTermsPublic)
def retire_terms(
    code: str,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.PRICES_MANAGE)],
) -> PaymentTermsPublic:
    """Retire a template; 409 while active customers have it."""
    terms = terms_service.retire(
        session=session, terms=_load(session, code), actor=principal.actor(Source.API)
    )
    return public(terms)
