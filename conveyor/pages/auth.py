"""Sign-in and sign-out pages: staff with their token, customers with e-mail and password."""

import asyncio
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import StateDep, authenticate_token
from conveyor.auth import service as login_service
from conveyor.core.models import utcnow
from conveyor.core.security import hash_password, password_needs_rehash, verify_password
from conveyor.core.state import AppState, in_session
from conveyor.customer import service as customer_service
from conveyor.pages.web import (
    CsrfChecked,
    WebSession,
    WebSessionDep,
    page_router,
    render,
    store_session,
)

router = page_router()
T = TypeVar("T")


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
    """Check the credentials, then start a fresh session (new CSRF token) for that user.

    Throttled per account (customers) and per client address: past the thresholds every attempt
    waits out a doubling backoff (429 with Retry-After), whatever the password.
    """
    kind = "customer" if kind == "customer" else "staff"
    context = {"next": next, "tab": kind, "email": email}
    thresholds = _thresholds(request, state, kind, email)
    keys = list(thresholds)
    wait = await in_session(
        state,
        lambda s: login_service.wait_seconds(session=s, keys=keys, now=utcnow()),
        read_only=True,
    )
    if wait:
        return _too_many(request, context, wait)
    new = WebSession()
    if kind == "customer":
        customer_id = await _check_customer(request, state, email, password)
        if customer_id is not None:
            new.kind, new.subject_id = "customer", customer_id
    elif token.strip():
        principal = await asyncio.to_thread(authenticate_token, state, token.strip())
        if principal is not None and principal.employee is None:
            new.kind = "admin"
        elif principal is not None:
            new.kind, new.subject_id = "employee", principal.employee_id
    if new.kind is None:
        await _record_failure(state, thresholds)
        error = (
            "Unknown e-mail or wrong password."
            if kind == "customer"
            else "That token does not belong to an active employee."
        )
        return render(request, "login.html", {**context, "error": error}, status_code=401)
    if kind == "customer":  # the account's failures are forgotten; the address's are not
        account = [login_service.account_key("customer", email)]
        await in_session(state, lambda s: login_service.clear(session=s, keys=account))
    return redirect(request, _safe_next(next, home_for(new)), new)


def _thresholds(request: Request, state: AppState, kind: str, email: str) -> dict[str, int]:
    """The throttle keys of this attempt (its address, a customer's account) and their limits."""
    address = request.client.host if request.client else None
    limits = {login_service.address_key(address): state.settings.login_max_failures_per_address}
    if kind == "customer":
        limits[login_service.account_key("customer", email)] = state.settings.login_max_failures
    return limits


async def _record_failure(state: AppState, thresholds: dict[str, int]) -> None:
    backoff = login_service.Backoff(
        base_seconds=state.settings.login_backoff_seconds,
        max_seconds=state.settings.login_backoff_max_seconds,
        window_seconds=state.settings.login_failure_window_seconds,
    )
    await in_session(
        state,
        lambda s: login_service.record_failure(
            session=s, thresholds=thresholds, backoff=backoff, now=utcnow()
        ),
    )


def _too_many(request: Request, context: dict[str, str], wait: float) -> Response:
    seconds = login_service.retry_after_header(wait)
    error = f"Too many failed sign-ins. Try again in {seconds} seconds."
    page = render(request, "login.html", {**context, "error": error}, status_code=429)
    page.headers["Retry-After"] = seconds
    return page


async def _check_customer(
    request: Request, state: AppState, email: str, password: str
) -> int | None:
    """The customer these credentials open, or None; rehashes a hash of a lower cost."""
    customer = await in_session(
        state,
        lambda s: customer_service.get_by_email(session=s, email=email.strip()),
        read_only=True,
    )
    stored = customer.password_hash if customer is not None else None
    # An unknown e-mail costs the same hash as a wrong password: no probing by timing.
    if not await _hashing(request, verify_password, password, stored):
        return None
    if customer is None or customer.id is None or stored is None:
        return None
    if password_needs_rehash(stored):
        rehashed = await _hashing(request, hash_password, password)
        customer_id = customer.id
        await in_session(
            state,
            lambda s: customer_service.replace_password_hash(
                session=s, customer_id=customer_id, expected=stored, password_hash=rehashed
            ),
        )
    return customer.id


async def _hashing(request: Request, work: Callable[..., T], *args: Any) -> T:
    """Run a password hash on a worker thread, at most `password_hash_concurrency` at once.

    Waiting callers wait here, on the event loop, holding no thread, so a flood of sign-ins
    queues instead of taking every core (and every worker thread) of the process.
    """
    slots: asyncio.Semaphore | None = getattr(request.app.state, "password_slots", None)
    if slots is None:
        state: AppState = request.app.state.conveyor
        slots = asyncio.Semaphore(state.settings.password_hash_concurrency)
        request.app.state.password_slots = slots
    async with slots:
        return await asyncio.to_thread(work, *args)


@router.post("/logout", include_in_schema=False, dependencies=[CsrfChecked])
def logout(request: Request, web: WebSessionDep) -> Response:
    """End the session."""
    fresh = WebSession(flash="You are signed out.")
    return redirect(request, "/login", fresh)
