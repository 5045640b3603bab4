"""Settings > People: employees listed (and as CSV), added (a set-password link mailed to them),
edited (name, e-mail, roles, clearance), deactivated and let back in, and their bearer tokens
issued (shown once) and revoked. Every route needs employees.manage."""

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep, StateDep
from conveyor.audit.models import Source
from conveyor.auth import flows as link_flows
from conveyor.auth.permissions import Permission, Role
from conveyor.core.errors import DomainError, Invalid, NotFound
from conveyor.core.state import AppState, in_session
from conveyor.employee import flows as employee_flows
from conveyor.employee import read as employee_read
from conveyor.employee import service as employee_service
from conveyor.employee.models import Employee, EmployeeCreate, EmployeeToken, EmployeeUpdate
from conveyor.pages import listing
from conveyor.pages.history import history
from conveyor.pages.listing import Filter, Listing, ListView
from conveyor.pages.settings_forms import FormField, FormTooLong, errors_of, read_form, to_input
from conveyor.pages.web import (
    CsrfChecked,
    WebSession,
    WebSessionDep,
    flash_redirect,
    page_refusal,
    page_router,
    render,
    require_page,
)

router = page_router()
BASE = "/settings/people"
MANAGE = Permission.EMPLOYEES_MANAGE
ManagerDep = Annotated[Principal, require_page(MANAGE)]
ROLES = tuple(role.value for role in Role)
FIELDS = (
    FormField("name", "Name"),
    FormField("email", "E-mail", max_length=320),
    FormField(
        "clearance",
        "Clearance",
        "select",
        options=tuple((str(level), str(level)) for level in range(11)),
        hint="0-10: some permissions need more",
    ),
)
MAX_TOKEN_DAYS = 3650
CONFIRM = "yes"  # the value of a destructive form's "yes, do it" checkbox

PEOPLE = Listing(
    path=BASE,
    filters=(
        Filter("q", "Name or e-mail", placeholder="name or e-mail"),
        Filter("role", "Role", "choice", ROLES),
        Filter("active", "Active", "choice", ("yes", "no")),
    ),
    sorts=employee_read.SORTS,
    default_sort="name",
    tiebreak=employee_read.SORTS["created"],
    default_desc=False,
)


# ---- list -----------------------------------------------------------------------------------


def _people(request: Request) -> tuple[ListView, Any]:
    view = listing.read(PEOPLE, request)
    active = None if view.get("active") is None else view.get("active") == "yes"
    query = employee_read.search(text=view.get("q"), role=view.get("role"), active=active)
    return view, query


@router.get(BASE, include_in_schema=False)
def people_list(request: Request, session: ReadSessionDep, principal: ManagerDep) -> Response:
    """Employees, filtered by name or e-mail, role and active flag, sorted, paged."""
    view, query = _people(request)
    items = listing.rows(session, view, query)
    context = listing.context(view, "settings", items)
    return render(request, "people.html", context, principal=principal)


@router.get(f"{BASE}.csv", include_in_schema=False)
def people_csv(request: Request, session: ReadSessionDep, principal: ManagerDep) -> Response:
    """The same filtered employees as CSV."""
    view, query = _people(request)
    header = ("id", "name", "email", "roles", "clearance", "active", "on_duty", "created")

    def row(employee: Employee) -> Sequence[object]:
        return (
            employee.id,
            employee.name,
            employee.email,
            " ".join(employee.roles),
            employee.clearance,
            "yes" if employee.active else "no",
            "yes" if employee.on_duty else "no",
            employee.created_at.isoformat(timespec="seconds"),
        )

    return listing.export(session, view, query, header=header, row=row, filename="people")


# ---- the form -------------------------------------------------------------------------------


async def _read_person(request: Request) -> dict[str, Any]:
    """The form as model input: name, e-mail, clearance and the ticked roles."""
    values: dict[str, Any] = to_input(FIELDS, await read_form(request, FIELDS))
    form = await request.form()
    roles = [r for r in form.getlist("roles") if isinstance(r, str)]
    if len(roles) > len(ROLES):
        raise FormTooLong(f"Roles: at most {len(ROLES)}")
    values["roles"] = roles
    return values


def _values_of(employee: Employee) -> dict[str, Any]:
    return {
        "name": employee.name,
        "email": employee.email,
        "clearance": str(employee.clearance),
        "roles": list(employee.roles),
    }


def _errors(exc: Exception) -> dict[str, str]:
    """Messages by field: validation, unknown roles, a taken e-mail."""
    if isinstance(exc, ValidationError | FormTooLong):
        return errors_of(exc)
    if isinstance(exc, Invalid):
        return {"roles": exc.message}
    if isinstance(exc, employee_service.EmployeeError):
        return {"email": str(exc)}
    return {"": str(exc)}


FormErrors = (ValidationError, FormTooLong, Invalid, employee_service.EmployeeError)


def _new_form(
    request: Request,
    principal: Principal,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {"page": "settings", "employee": None, "fields": FIELDS}
    context |= {"roles": ROLES, "values": values, "errors": errors}
    return render(request, "person.html", context, principal=principal, status_code=status_code)


@router.get(f"{BASE}/new", include_in_schema=False)
def new_person_page(request: Request, principal: ManagerDep) -> Response:
    """The form for a new employee."""
    return _new_form(request, principal, {"clearance": "1", "roles": []}, {})


@router.post(f"{BASE}/new", include_in_schema=False, dependencies=[CsrfChecked])
async def create_person(
    request: Request, state: StateDep, web: WebSessionDep, principal: ManagerDep
) -> Response:
    """Add the employee and mail them a one-time link to choose their password."""
    values: dict[str, Any] = {}
    actor = principal.actor(Source.PAGE)
    try:
        values = await _read_person(request)
        body = EmployeeCreate.model_validate(values)
        employee = await in_session(
            state, lambda s: employee_service.add(session=s, employee_in=body, actor=actor)
        )
    except FormErrors as exc:
        return _new_form(request, principal, values, _errors(exc), status_code=422)
    note = await _send_link(state, employee, principal)
    return flash_redirect(request, web, f"{BASE}/{employee.id}", f"{employee.name} added; {note}")


async def _send_link(state: AppState, employee: Employee, principal: Principal) -> str:
    """Mail the set-password link; what happened, for the flash message."""
    try:
        sent_to = await link_flows.send_password_link(
            state,
            kind="employee",
            account_id=employee.id or 0,
            actor=principal.actor(Source.PAGE),
        )
    except link_flows.LinkNotSent as exc:
        return f"the set-password link was not sent ({exc})."
    hours = f"{state.settings.password_link_hours:g}"
    return f"a one-time set-password link (valid {hours} hours) was mailed to {sent_to}."


# ---- one employee ---------------------------------------------------------------------------


def _employee(session: Session, employee_id: int) -> Employee:
    employee = employee_service.get(session=session, employee_id=employee_id)
    if employee is None:
        raise NotFound(f"There is no employee {employee_id}.")
    return employee


def _record_context(session: Session, principal: Principal, employee_id: int) -> dict[str, Any]:
    """What the employee's page shows besides the form: tokens and audit history."""
    employee = _employee(session, employee_id)
    tokens = employee_service.list_tokens(session=session, employee_id=employee_id)
    entities = [("employee", [str(employee_id)]), ("employee_token", [str(t.id) for t in tokens])]
    return {
        "page": "settings",
        "employee": employee,
        "tokens": tokens,
        "fields": FIELDS,
        "roles": ROLES,
        "history": history(session, principal, entities),
    }


@router.get(f"{BASE}/{{employee_id}}", include_in_schema=False)
def person_page(
    request: Request, employee_id: int, session: ReadSessionDep, principal: ManagerDep
) -> Response:
    """The employee: the edit form, (de)activation, password link, tokens, audit history."""
    context = _record_context(session, principal, employee_id)
    context |= {"values": _values_of(context["employee"]), "errors": {}}
    return render(request, "person.html", context, principal=principal)


@router.post(f"{BASE}/{{employee_id}}", include_in_schema=False, dependencies=[CsrfChecked])
async def update_person(
    request: Request, employee_id: int, state: StateDep, web: WebSessionDep, principal: ManagerDep
) -> Response:
    """Save name, e-mail, roles and clearance (errors shown next to their fields)."""
    values: dict[str, Any] = {}
    try:
        values = await _read_person(request)
        EmployeeCreate.model_validate(values)  # the same rules as a new employee, by field
        await employee_flows.update(
            state,
            employee_id=employee_id,
            employee_in=EmployeeUpdate.model_validate(values),
            caller=principal,
            actor=principal.actor(Source.PAGE),
        )
    except FormErrors as exc:
        errors = _errors(exc)
        context = await in_session(
            state, lambda s: _record_context(s, principal, employee_id), read_only=True
        )
        context |= {"values": values, "errors": errors}
        return render(request, "person.html", context, principal=principal, status_code=422)
    return flash_redirect(request, web, f"{BASE}/{employee_id}", "Saved.")


def _unconfirmed(request: Request, web: WebSession, employee_id: int, what: str) -> Response:
    return flash_redirect(
        request, web, f"{BASE}/{employee_id}", f"Not {what}: tick the box to confirm first."
    )


@router.post(
    f"{BASE}/{{employee_id}}/deactivate", include_in_schema=False, dependencies=[CsrfChecked]
)
async def deactivate_person(
    request: Request,
    employee_id: int,
    state: StateDep,
    web: WebSessionDep,
    principal: ManagerDep,
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Deactivate (only with the box ticked): tokens revoked, sessions ended, tasks handed over."""
    if confirm != CONFIRM:
        return _unconfirmed(request, web, employee_id, "deactivated")
    back = f"{BASE}/{employee_id}"
    try:
        employee = await employee_flows.update(
            state,
            employee_id=employee_id,
            employee_in=EmployeeUpdate(active=False),
            caller=principal,
            actor=principal.actor(Source.PAGE),
        )
    except DomainError as exc:
        return page_refusal(
            request, exc, web=web, flash="Not deactivated", back=back, principal=principal
        )
    return flash_redirect(
        request, web, back, f"{employee.name} is deactivated: tokens and sessions ended."
    )


@router.post(
    f"{BASE}/{{employee_id}}/reactivate", include_in_schema=False, dependencies=[CsrfChecked]
)
async def reactivate_person(
    request: Request, employee_id: int, state: StateDep, web: WebSessionDep, principal: ManagerDep
) -> Response:
    """Let a deactivated employee back in (their old tokens stay revoked)."""
    employee = await employee_flows.update(
        state,
        employee_id=employee_id,
        employee_in=EmployeeUpdate(active=True),
        caller=principal,
        actor=principal.actor(Source.PAGE),
    )
    return flash_redirect(
        request, web, f"{BASE}/{employee_id}", f"{employee.name} is active again."
    )


@router.post(
    f"{BASE}/{{employee_id}}/password-link", include_in_schema=False, dependencies=[CsrfChecked]
)
async def send_link(
    request: Request, employee_id: int, state: StateDep, web: WebSessionDep, principal: ManagerDep
) -> Response:
    """Mail the employee a one-time link to choose a (new) password."""
    employee = await in_session(state, lambda s: _employee(s, employee_id), read_only=True)
    note = await _send_link(state, employee, principal)
    return flash_redirect(request, web, f"{BASE}/{employee_id}", note[0].upper() + note[1:])


# ---- tokens ---------------------------------------------------------------------------------


@router.post(f"{BASE}/{{employee_id}}/tokens", include_in_schema=False, dependencies=[CsrfChecked])
async def issue_token(
    request: Request,
    employee_id: int,
    state: StateDep,
    web: WebSessionDep,
    principal: ManagerDep,
    name: Annotated[str, Form(max_length=100)] = "api",
    days: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    """A new bearer token, shown on the answer page only (its hash is all that is kept);
    it expires after `days` (empty: CONVEYOR_TOKEN_TTL_DAYS, unset there: when revoked)."""
    actor = principal.actor(Source.PAGE)
    label = name.strip() or "api"
    back = f"{BASE}/{employee_id}"
    if days.strip() and not (days.strip().isdigit() and 1 <= int(days) <= MAX_TOKEN_DAYS):
        return flash_redirect(request, web, back, f"No token: days must be 1 to {MAX_TOKEN_DAYS}.")
    expires_in_days = int(days) if days.strip() else state.settings.token_ttl_days

    def issue(session: Session) -> tuple[Employee, EmployeeToken, str]:
        row, token = employee_service.issue_token(
            session=session,
            employee_id=employee_id,
            name=label,
            expires_in_days=expires_in_days,
            actor=actor,
        )
        return _employee(session, employee_id), row, token

    try:
        employee, row, token = await in_session(state, issue)
    except DomainError as exc:
        return page_refusal(request, exc, web=web, flash="No token", back=back, principal=principal)
    context = {"page": "settings", "employee": employee, "row": row, "token": token}
    response = render(request, "person_token.html", context, principal=principal)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post(
    f"{BASE}/{{employee_id}}/tokens/{{token_id}}/revoke",
    include_in_schema=False,
    dependencies=[CsrfChecked],
)
async def revoke_token(
    request: Request,
    employee_id: int,
    token_id: int,
    state: StateDep,
    web: WebSessionDep,
    principal: ManagerDep,
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Revoke a token now (only with the box ticked): the next request with it gets 401."""
    if confirm != CONFIRM:
        return _unconfirmed(request, web, employee_id, "revoked")
    actor = principal.actor(Source.PAGE)
    row = await in_session(
        state,
        lambda s: employee_service.revoke_token(
            session=s, employee_id=employee_id, token_id=token_id, actor=actor
        ),
    )
    return flash_redirect(request, web, f"{BASE}/{employee_id}", f"Token “{row.name}” revoked.")
