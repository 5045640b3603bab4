"""The opportunity pages: the pipeline (per stage and owner, with the deals below it, both as
CSV), a new deal, and a deal's page (edit, move through the stages, its quotes with a new quote
through the order entry, mark lost with a reason, its stage and audit history)."""

from collections.abc import Sequence
from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep, SessionDep, StateDep
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.core.errors import DomainError, Invalid
from conveyor.core.models import utcnow
from conveyor.core.spreadsheet import to_csv
from conveyor.customer.models import Customer
from conveyor.opportunity import flows as opportunity_flows
from conveyor.opportunity import read as opportunity_read
from conveyor.opportunity import service as opportunity_service
from conveyor.opportunity.models import (
    OPEN_STAGES,
    LostReason,
    Opportunity,
    OpportunityCreate,
    OpportunityUpdate,
    Stage,
)
from conveyor.pages import listing
from conveyor.pages.auth import redirect
from conveyor.pages.history import record_history
from conveyor.pages.listing import Filter, Listing, ListView
from conveyor.pages.settings_forms import (
    FormField,
    FormTooLong,
    errors_of,
    form_values,
    read_form,
    status_of,
    to_input,
)
from conveyor.pages.web import (
    CsrfChecked,
    WebSessionDep,
    page_refusal,
    page_router,
    render,
    require_page,
)

router = page_router()
Viewer = Annotated[Principal, require_page(Permission.OPPORTUNITIES_VIEW)]
Manager = Annotated[Principal, require_page(Permission.OPPORTUNITIES_MANAGE)]

OPPORTUNITIES = Listing(
    path="/opportunities",
    filters=(
        Filter("owner", "Owner", "number"),
        Filter("stage", "Stage", "choice", tuple(Stage)),
        Filter("customer", "Customer", placeholder="name or number"),
        Filter("title", "Title", placeholder="part of the title"),
    ),
    sorts=opportunity_service.SORTS,
    default_sort="number",
    tiebreak=opportunity_service.SORTS["number"],
)
OWNER = FormField("owner_id", "Owner", "select", nullable=True)
EDIT_FIELDS = (
    FormField("title", "Title"),
    FormField("value", "Value", "number", max_length=20),
    FormField("probability", "Probability (%)", "number", max_length=3, nullable=True),
    FormField("expected_close", "Expected close", "date", max_length=10, nullable=True),
    OWNER,
)
NEW_FIELDS = (
    FormField("customer_id", "Customer number", "number", max_length=12),
    EDIT_FIELDS[0],
    EDIT_FIELDS[1],
    FormField("currency", "Currency", max_length=3, nullable=True, hint="empty: the default"),
    FormField(
        "stage",
        "Stage",
        "select",
        options=tuple((s.value, s.value) for s in OPEN_STAGES),
    ),
    *EDIT_FIELDS[2:],
)


def _with_owners(session: Session, fields: Sequence[FormField]) -> list[FormField]:
    """The fields with the owner choice filled in (nobody, or an employee who may own deals)."""
    options = (("", "nobody"),) + tuple(
        (str(e.id), e.name) for e in opportunity_service.owners(session=session)
    )
    return [replace(f, options=options) if f.name == OWNER.name else f for f in fields]


def _query(view: ListView, principal: Principal) -> Any:
    return opportunity_service.search(
        stage=view.get("stage"),
        owner_id=view.get("owner"),
        customer=view.get("customer"),
        title=view.get("title"),
        account_rep_id=principal.own_accounts_only(),
    )


def _pipeline(request: Request, session: Session, principal: Principal, owner: int | None) -> Any:
    return opportunity_service.pipeline(
        session=session,
        owner_id=owner,
        account_rep_id=principal.own_accounts_only(),
        default_currency=request.app.state.conveyor.settings.default_currency,
    )


@router.get("/opportunities", include_in_schema=False)
def pipeline_page(request: Request, session: ReadSessionDep, principal: Viewer) -> Response:
    """The pipeline per stage and per owner (filtered by owner), and the deals below it."""
    view = listing.read(OPPORTUNITIES, request)
    items = listing.rows(session, view, _query(view, principal))
    owner = view.get("owner")
    context = listing.context(
        view,
        "opportunities",
        [(o, c, e, opportunity_service.weighted(o)) for o, c, e in items],
        pipeline=_pipeline(request, session, principal, owner),
        owners=opportunity_service.owners(session=session),
        pipeline_csv="/opportunities/pipeline.csv"
        + (f"?{urlencode({'owner': owner})}" if owner else ""),
        may_manage=principal.can(Permission.OPPORTUNITIES_MANAGE),
        today=utcnow().date(),
        closes_before=opportunity_service.closes_before,
    )
    return render(request, "opportunities.html", context, principal=principal)


@router.get("/opportunities.csv", include_in_schema=False)
def opportunities_csv(request: Request, session: ReadSessionDep, principal: Viewer) -> Response:
    """The same filtered deals as CSV."""
    view = listing.read(OPPORTUNITIES, request)
    header = (
        "number",
        "title",
        "customer",
        "stage",
        "currency",
        "value",
        "probability",
        "weighted",
        "expected_close",
        "owner",
        "lost_reason",
        "won_order",
    )

    def row(found: Any) -> Sequence[object]:
        opportunity, customer, owner = found
        return (
            opportunity.number,
            opportunity.title,
            customer.name,
            opportunity.stage,
            opportunity.currency,
            opportunity.value,
            opportunity.probability,
            opportunity_service.weighted(opportunity),
            opportunity.expected_close.isoformat() if opportunity.expected_close else "",
            owner.name if owner else "",
            opportunity.lost_reason or "",
            opportunity.won_order or "",
        )

    return listing.export(
        session, view, _query(view, principal), header=header, row=row, filename="opportunities"
    )


@router.get("/opportunities/pipeline.csv", include_in_schema=False)
def pipeline_csv(
    request: Request,
    session: ReadSessionDep,
    principal: Viewer,
    owner: Annotated[int | None, Query(gt=0, le=2**31 - 1)] = None,
) -> Response:
    """The pipeline per stage (count, value, weighted value) as CSV."""
    found = _pipeline(request, session, principal, owner)
    body = to_csv(
        ("stage", "currency", "count", "total", "weighted"),
        ([r.stage, r.currency, r.count, r.total, r.weighted] for r in found.stages),
    )
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="pipeline-{stamp}.csv"'},
    )


def _new_page(
    request: Request,
    session: Session,
    principal: Principal,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    context = {
        "page": "opportunities",
        "fields": _with_owners(session, NEW_FIELDS),
        "values": values,
        "errors": errors,
    }
    return render(
        request, "opportunity_new.html", context, principal=principal, status_code=status_code
    )


@router.get("/opportunities/new", include_in_schema=False)
def new_opportunity_page(
    request: Request,
    session: ReadSessionDep,
    principal: Manager,
    customer_id: Annotated[int | None, Query(gt=0, le=2**31 - 1)] = None,
) -> Response:
    """The form for a new deal (the customer filled in when given)."""
    values = {
        "customer_id": str(customer_id or ""),
        "stage": Stage.PROSPECTING.value,
        "owner_id": str(principal.employee_id or ""),
    }
    return _new_page(request, session, principal, values, {})


@router.post("/opportunities/new", include_in_schema=False, dependencies=[CsrfChecked])
async def create_opportunity(
    request: Request, session: SessionDep, state: StateDep, web: WebSessionDep, principal: Manager
) -> Response:
    """Record the deal from the form; errors shown next to their fields."""
    values: dict[str, str] = {}
    try:
        values = await read_form(request, NEW_FIELDS)
        opportunity_in = OpportunityCreate.model_validate(to_input(NEW_FIELDS, values))
        opportunity = opportunity_service.create(
            session=session,
            opportunity_in=opportunity_in,
            default_currency=state.settings.default_currency,
            actor=principal.actor(Source.PAGE),
            account_rep_id=principal.own_accounts_only(),
        )
    except (ValidationError, FormTooLong, DomainError) as exc:
        session.rollback()
        return _new_page(
            request, session, principal, values, _errors(exc), status_code=status_of(exc)
        )
    web.flash = f"Opportunity {opportunity.number} recorded."
    return redirect(request, f"/opportunities/{opportunity.number}", web)


def _errors(exc: ValidationError | FormTooLong | DomainError) -> dict[str, str]:
    if isinstance(exc, DomainError) and "customer" in exc.message:
        return {"customer_id": exc.message}
    if isinstance(exc, DomainError) and "owner" in exc.message:
        return {"owner_id": exc.message}
    return errors_of(exc)


def _detail_page(
    request: Request,
    session: Session,
    principal: Principal,
    opportunity: Opportunity,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    public = opportunity_read.public(session, opportunity)
    context = {
        "page": "opportunities",
        "opportunity": opportunity,
        "public": public,
        "buyer": session.get(Customer, opportunity.customer_id),
        "closed": opportunity.stage not in OPEN_STAGES,
        "stages": [s.value for s in Stage if s != Stage.LOST],
        "lost_reasons": [r.value for r in LostReason],
        "fields": _with_owners(session, EDIT_FIELDS),
        "values": values or form_values(opportunity, EDIT_FIELDS),
        "errors": errors or {},
        "may_manage": principal.can(Permission.OPPORTUNITIES_MANAGE),
        "may_quote": principal.can(Permission.ORDERS_PLACE),
        "new_quote_url": "/orders/new?"
        + urlencode({"customer_id": opportunity.customer_id, "opportunity": opportunity.number}),
        "history": record_history(session, principal, "opportunity", opportunity.number or ""),
        "history_title": "Audit history",
    }
    return render(
        request, "opportunity.html", context, principal=principal, status_code=status_code
    )


@router.get("/opportunities/{number}", include_in_schema=False)
def opportunity_page(
    number: str, request: Request, session: ReadSessionDep, principal: Viewer
) -> Response:
    """One deal: its figures, stage, quotes, stage history and audit history."""
    try:
        opportunity = opportunity_service.load(
            session, number, account_rep_id=principal.own_accounts_only()
        )
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)
    return _detail_page(request, session, principal, opportunity)


@router.post("/opportunities/{number}/edit", include_in_schema=False, dependencies=[CsrfChecked])
async def edit_opportunity(
    number: str, request: Request, session: SessionDep, web: WebSessionDep, principal: Manager
) -> Response:
    """Save the deal's figures (checked like the PATCH route)."""
    try:
        opportunity = opportunity_service.load(
            session, number, account_rep_id=principal.own_accounts_only()
        )
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)
    values: dict[str, str] = {}
    try:
        values = await read_form(request, EDIT_FIELDS)
        changes = OpportunityUpdate.model_validate(to_input(EDIT_FIELDS, values))
        opportunity_service.update(
            session=session,
            opportunity=opportunity,
            changes=changes,
            actor=principal.actor(Source.PAGE),
        )
    except (ValidationError, FormTooLong, DomainError) as exc:
        session.rollback()
        opportunity = opportunity_service.load(session, number)
        return _detail_page(
            request,
            session,
            principal,
            opportunity,
            values=values,
            errors=_errors(exc),
            status_code=status_of(exc),
        )
    web.flash = f"Opportunity {number} saved."
    return redirect(request, f"/opportunities/{number}", web)


@router.post("/opportunities/{number}/stage", include_in_schema=False, dependencies=[CsrfChecked])
def move_opportunity(
    number: str,
    request: Request,
    session: SessionDep,
    web: WebSessionDep,
    principal: Manager,
    stage: Annotated[str, Form(max_length=16)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Move the deal to the chosen stage (its probability: the stage's default)."""
    back = f"/opportunities/{number}"
    try:
        opportunity = opportunity_service.load(
            session, number, account_rep_id=principal.own_accounts_only()
        )
        if stage not in {s.value for s in Stage}:
            raise Invalid(f"stage {stage[:20]!r}: not one of {', '.join(Stage)}")
        opportunity_service.move(
            session=session,
            opportunity=opportunity,
            stage=Stage(stage),
            note=note.strip(),
            actor=principal.actor(Source.PAGE),
        )
    except DomainError as exc:
        session.rollback()
        return page_refusal(request, exc, web=web, back=back, principal=principal)
    web.flash = f"Opportunity {number} moved to {stage}."
    return redirect(request, back, web)


@router.post("/opportunities/{number}/lost", include_in_schema=False, dependencies=[CsrfChecked])
async def mark_lost(
    number: str,
    request: Request,
    state: StateDep,
    web: WebSessionDep,
    principal: Manager,
    reason: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
    confirmed: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    """Close the deal as lost, with a reason from the list and a ticked confirmation; its open
    quotes are cancelled."""
    back = f"/opportunities/{number}"
    try:
        if reason not in {r.value for r in LostReason}:
            raise Invalid(f"choose why it was lost: one of {', '.join(LostReason)}")
        if confirmed != "yes":
            raise Invalid("to mark it lost, tick the confirmation")
        result = await opportunity_flows.lose(
            state,
            number=number,
            reason=LostReason(reason),
            note=note.strip(),
            actor=principal.actor(Source.PAGE),
            account_rep_id=principal.own_accounts_only(),
        )
    except DomainError as exc:
        return page_refusal(request, exc, web=web, back=back, principal=principal)
    cancelled = f"; quotes cancelled: {', '.join(result.cancelled)}" if result.cancelled else ""
    web.flash = f"Opportunity {number} marked lost ({reason.replace('_', ' ')}){cancelled}."
    if result.not_cancelled:
        web.alert = "Not cancelled: " + "; ".join(
            f"{quote}: {why}" for quote, why in result.not_cancelled.items()
        )
    return redirect(request, back, web)
