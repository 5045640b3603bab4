"""Settings: payment terms templates listed, created, edited and retired."""

from typing import Annotated

from fastapi import Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep, SessionDep
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.core.errors import DomainError, Invalid, NotFound
from conveyor.pages.history import record_history
from conveyor.pages.settings_forms import (
    FormField,
    FormTooLong,
    errors_of,
    form_values,
    read_form,
    to_input,
)
from conveyor.pages.web import (
    CsrfChecked,
    WebSessionDep,
    page_refusal,
    page_router,
    render,
    require_page,
    store_session,
)
from conveyor.terms import service as terms_service
from conveyor.terms.models import PaymentTerms, PaymentTermsCreate, PaymentTermsUpdate

router = page_router()
BASE = "/settings/payment-terms"
# Templates are company-wide commercial conditions, managed like price and tax settings.
MANAGE = Permission.PRICES_MANAGE
CODE = FormField("code", "Code", max_length=16, hint="like NET30; A-Z, 0-9, - and _; kept")
FIELDS = (
    FormField("name", "Name"),
    FormField(
        "net_days", "Net days", "number", max_length=4, hint="due this many days after issue"
    ),
    FormField(
        "discount_percent",
        "Early-payment discount (%)",
        "number",
        max_length=6,
        nullable=True,
        hint="empty: no discount",
    ),
    FormField(
        "discount_days", "Discount if paid within (days)", "number", max_length=4, nullable=True
    ),
    FormField(
        "deposit_percent",
        "Deposit before fulfilment (%)",
        "number",
        max_length=6,
        nullable=True,
        hint="shown on the invoice; not enforced by the order process",
    ),
)


def _form_page(
    request: Request,
    principal: Principal,
    session: Session,
    *,
    terms: PaymentTerms | None,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    context = {
        "page": "settings",
        "terms": terms,
        "described": terms_service.describe_terms(terms) if terms else "",
        "code_field": CODE,
        "fields": FIELDS,
        "values": values,
        "errors": errors,
        "can_manage": principal.can(MANAGE),
        "history": record_history(session, principal, "payment_terms", terms.code)
        if terms
        else None,
    }
    return render(
        request, "settings_term.html", context, principal=principal, status_code=status_code
    )


def _saved(request: Request, web: WebSessionDep, code: str, text: str) -> Response:
    web.flash = text
    response = RedirectResponse(f"{BASE}/{code}", status_code=303)
    store_session(request, response, web)
    return response


def _terms(session: Session, code: str) -> PaymentTerms:
    terms = terms_service.get_by_code(session=session, code=code)
    if terms is None:
        raise NotFound(f"There are no payment terms {code}.")
    return terms


@router.get(BASE, include_in_schema=False)
def terms_page(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.CUSTOMERS_VIEW)],
    retired: Annotated[str, Query(max_length=3)] = "",
) -> Response:
    """The terms templates in use (or, with `retired=yes`, the retired ones), by code."""
    rows = terms_service.list_all(session=session, retired=retired == "yes")
    context = {
        "page": "settings",
        "rows": [(t, terms_service.describe_terms(t)) for t in rows],
        "retired": retired == "yes",
        "can_manage": principal.can(MANAGE),
    }
    return render(request, "settings_terms.html", context, principal=principal)


@router.get(f"{BASE}/new", include_in_schema=False)
def new_terms_page(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(MANAGE)],
) -> Response:
    """The form for a new terms template."""
    values = {"net_days": "30"}
    return _form_page(request, principal, session, terms=None, values=values, errors={})


@router.post(BASE, include_in_schema=False, dependencies=[CsrfChecked])
async def create_terms(
    request: Request,
    session: SessionDep,
    web: WebSessionDep,
    principal: Annotated[Principal, require_page(MANAGE)],
) -> Response:
    """Add a terms template from the form; errors shown next to their fields."""
    values: dict[str, str] = {}
    try:
        values = await read_form(request, (CODE, *FIELDS))
        body = PaymentTermsCreate.model_validate(to_input((CODE, *FIELDS), values))
        terms = terms_service.create(
            session=session, terms_in=body, actor=principal.actor(Source.PAGE)
        )
    except (ValidationError, FormTooLong) as exc:
        errors = errors_of(exc)
    except terms_service.TermsExistsError as exc:
        session.rollback()
        errors = {"code": str(exc)}
    else:
        return _saved(request, web, terms.code, f"Payment terms {terms.code} added.")
    return _form_page(
        request, principal, session, terms=None, values=values, errors=errors, status_code=422
    )


@router.get(f"{BASE}/{{code}}", include_in_schema=False)
def one_terms_page(
    request: Request,
    code: Annotated[str, Path(max_length=16)],
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.CUSTOMERS_VIEW)],
) -> Response:
    """One terms template: its form (editable by who manages them) and its history."""
    terms = _terms(session, code)
    values = form_values(terms, FIELDS)
    return _form_page(request, principal, session, terms=terms, values=values, errors={})


@router.post(f"{BASE}/{{code}}", include_in_schema=False, dependencies=[CsrfChecked])
async def update_terms(
    request: Request,
    code: Annotated[str, Path(max_length=16)],
    session: SessionDep,
    web: WebSessionDep,
    principal: Annotated[Principal, require_page(MANAGE)],
) -> Response:
    """Save the edited template (the code stays)."""
    terms = _terms(session, code)
    values: dict[str, str] = {}
    try:
        values = await read_form(request, FIELDS)
        data = to_input(FIELDS, values)
        PaymentTermsCreate.model_validate({"code": terms.code, **data})  # errors by field
        terms_service.update(
            session=session,
            terms=terms,
            changes=PaymentTermsUpdate.model_validate(data),
            actor=principal.actor(Source.PAGE),
        )
    except (ValidationError, FormTooLong) as exc:
        return _form_page(
            request, principal, session, terms=terms, values=values,
            errors=errors_of(exc), status_code=422,
        )  # fmt: skip
    except DomainError as exc:
        session.rollback()
        return page_refusal(
            request, exc, web=web, flash="Not saved", back=f"{BASE}/{terms.code}",
            principal=principal,
        )  # fmt: skip
    return _saved(request, web, terms.code, f"Payment terms {terms.code} saved.")


@router.post(f"{BASE}/{{code}}/retire", include_in_schema=False, dependencies=[CsrfChecked])
def retire_terms(
    request: Request,
    code: Annotated[str, Path(max_length=16)],
    session: SessionDep,
    web: WebSessionDep,
    principal: Annotated[Principal, require_page(MANAGE)],
    confirmed: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    """Retire the template once its page's confirmation is ticked, or say why not yet."""
    terms = _terms(session, code)
    try:
        if confirmed != "yes":
            raise Invalid(f"tick the confirmation to retire {terms.code}")
        terms_service.retire(session=session, terms=terms, actor=principal.actor(Source.PAGE))
    except DomainError as exc:
        session.rollback()
        return page_refusal(
            request, exc, web=web, flash="Not retired", back=f"{BASE}/{terms.code}",
            principal=principal,
        )  # fmt: skip
    return _saved(request, web, terms.code, f"Payment terms {terms.code} retired.")
