"""Sign-in and sign-out pages: staff with their token, customers with e-mail and password."""

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import StateDep
from conveyor.core.security import tokens_equal
from conveyor.core.state import in_session
from conveyor.customer import service as customer_service
from conveyor.employee import service as employee_service
from conveyor.pages.web import (
    CsrfChecked,
    WebSession,
    WebSessionDep,
    page_router,
    render,
    store_session,
)

router = page_router()


def redirect(request: Request, url: str, web: WebSession | None = None) -> RedirectResponse:
    """A 303 to `url`, writing the session cookie when `web` changed."""
    response = RedirectResponse(url, status_code=303)
    if web is not None:
        store_session(request, response, web)
    return response


def _safe_next(next_url: str | None, default: str) -> str:
    # Only local paths: an open redirect would let a link sign people in and send them away.
    if next_url and next_url.startswith("/") and not next_url.startswith(("//", "/\\")):
        return next_url
    return default


def home_for(web: WebSession) -> str:
    """Where a signed-in user lands."""
    if web.kind == "customer":
        return "/customer"
    if web.kind in ("employee", "admin"):
        return "/inbox"
    return "/login"


@router.get("/", include_in_schema=False)
def index(request: Request, web: WebSessionDep) -> Response:
    """Home: the inbox for staff, the customer center for customers, else sign-in."""
    return redirect(request, home_for(web))


@router.get("/login", include_in_schema=False)
def login_page(request: Request, web: WebSessionDep, next: str | None = None) -> Response:
    """The sign-in form (staff token or customer e-mail and password)."""
    return render(request, "login.html", {"next": next or "", "error": None, "tab": "staff"})


@router.post("/login", include_in_schema=False, dependencies=[CsrfChecked])
async def login(
    request: Request,
    state: StateDep,
    web: WebSessionDep,
    kind: Annotated[str, Form()] = "staff",
    token: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Check the credentials, then start a fresh session (new CSRF token) for that user."""
    new = WebSession()
    if kind == "customer":
        customer = await in_session(
            state,
            lambda s: customer_service.authenticate(session=s, email=email, password=password),
            read_only=True,
        )
        if customer is not None:
            new.kind, new.subject_id = "customer", customer.id
    else:
        token = token.strip()
        admin = state.settings.admin_token
        if token and admin and tokens_equal(token, admin):
            new.kind = "admin"
        elif token:
            employee = await in_session(
                state,
                lambda s: employee_service.get_by_token(session=s, token=token),
                read_only=True,
            )
            if employee is not None:
                new.kind, new.subject_id = "employee", employee.id
    if new.kind is None:
        error = (
            "Unknown e-mail or wrong password."
            if kind == "customer"
            else "That token does not belong to an active employee."
        )
        context = {"next": next, "error": error, "tab": kind, "email": email}
        return render(request, "login.html", context, status_code=401)
    return redirect(request, _safe_next(next, home_for(new)), new)


@router.post("/logout", include_in_schema=False, dependencies=[CsrfChecked])
def logout(request: Request, web: WebSessionDep) -> Response:
    """End the session."""
    fresh = WebSession(flash="You are signed out.")
    return redirect(request, "/login", fresh)
