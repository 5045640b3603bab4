"""Settings: payment terms templates listed, created, edited and retired."""

from typing import Annotated

from fastapi import Form, Path, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep, SessionDep
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.core.errors import Invalid, NotFound
from conveyor.pages.form_page import FormPage
from conveyor.pages.settings_forms import FormField, form_values
from conveyor.pages.web import (
    CsrfChecked,
    WebSessionDep,
    page_router,
    render,
    require_page,
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


FORM = FormPage(
    template="settings_term.html",
    section="settings",
    record_name="terms",
    base=BASE,
    key="code",
    entity="payment_terms",
    fields=FIELDS,
    create_shape=PaymentTermsCreate,
    update_shape=PaymentTermsUpdate,
    manage=MANAGE,
    code_field=CODE,
    taken=(terms_service.TermsExistsError,),
    extra=lambda _session, terms: {
        "described": terms_service.describe_terms(terms) if terms else ""
    },
)


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
    return FORM.show(request, principal, session, record=None, values={"net_days": "30"})


@router.post(BASE, include_in_schema=False, dependencies=[CsrfChecked])
async def create_terms(
    request: Request,
    session: SessionDep,
    web: WebSessionDep,
    principal: Annotated[Principal, require_page(MANAGE)],
) -> Response:
    """Add a terms template from the form; errors shown next to their fields."""
    return await FORM.create(
        request, session, web, principal,
        save=lambda body: terms_service.create(
            session=session, terms_in=body, actor=principal.actor(Source.PAGE)
        ),
        done=lambda terms: f"Payment terms {terms.code} added.",
    )  # fmt: skip


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
    return FORM.show(request, principal, session, record=terms, values=values)


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
    return await FORM.update(
        request, session, web, principal, record=terms,
        save=lambda changes: terms_service.update(
            session=session, terms=terms, changes=changes, actor=principal.actor(Source.PAGE)
        ),
        done=f"Payment terms {terms.code} saved.",
    )  # fmt: skip


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

    def retire() -> None:
        if confirmed != "yes":
            raise Invalid(f"tick the confirmation to retire {terms.code}")
        terms_service.retire(session=session, terms=terms, actor=principal.actor(Source.PAGE))

    return FORM.act(
        request, session, web, principal, record=terms, action=retire,
        done=f"Payment terms {terms.code} retired.", refused="Not retired",
    )  # fmt: skip
