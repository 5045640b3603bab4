"""Sign-in and sign-out pages (staff and customers with e-mail and password, staff also with a
token), "forgot password?", and the page behind a one-time set-password link."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import BackgroundTasks, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from api.deps import StateDep, authenticate_token
from conveyor.audit.service import Actor
from conveyor.auth import credentials
from conveyor.auth import service as login_service
from conveyor.auth.flows import (
    SET_PASSWORD_PATH,
    LinkNotSent,
    send_forgotten_password_links,
    send_password_link,
)
from conveyor.core.models import utcnow
from conveyor.core.security import hash_password, password_needs_rehash, verify_password
from conveyor.core.state import AppState, in_session
from conveyor.customer import service as customer_service
from conveyor.employee import service as employee_service
from conveyor.pages.web import (
    SESSION_MAX_AGE_SECONDS,
    CsrfChecked,
    SignInRequired,
    WebSession,
    WebSessionDep,
    get_customer,
    get_staff,
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


# The login form's `kind`: staff sign in with e-mail and password (or a bearer token, the
# secondary option), customers with e-mail and password.
TABS = ("staff", "token", "customer")
# The customer center's pages; every other page is for staff.
CUSTOMER_AREAS = ("/customer", "/shop")


def audience(path: str) -> str:
    """Who a page is for, `customer` or `staff`, by its path."""
    path = path.split("?", 1)[0]
    inside = any(path == area or path.startswith(area + "/") for area in CUSTOMER_AREAS)
    return "customer" if inside else "staff"


@dataclass(frozen=True)
class OtherSession:
    """The browser is signed in, but as someone the page it asked for is not for."""

    kind: str  # customer | staff: who is signed in
    name: str
    home: str  # their own pages
    wanted: str  # customer | staff: whom the page is for


def other_session(
    request: Request, state: AppState, web: WebSession, wanted: str
) -> OtherSession | None:
    """Whose live session this browser holds when it is not one `wanted` can use; else None."""
    try:
        if web.kind == "customer" and wanted != "customer":
            customer = get_customer(request, state, web)
            return OtherSession("customer", customer.name, home_for(web), wanted)
        if web.kind in ("employee", "admin") and wanted == "customer":
            principal = get_staff(request, state, web)
            name = principal.employee.name if principal.employee else "Administrator"
            return OtherSession("staff", name, home_for(web), wanted)
    except SignInRequired:  # the session ended (signed out elsewhere, deactivated)
        return None
    return None


@router.get("/login", include_in_schema=False)
def login_page(
    request: Request,
    state: StateDep,
    web: WebSessionDep,
    next: str | None = None,
    tab: str | None = None,
) -> Response:
    """The sign-in form (e-mail and password for staff and customers, or a staff token), open
    at the tab of the page asked for. Signed in as the other kind (a customer opening a staff
    page, staff opening the customer center): says whose session it is and offers to switch."""
    wanted = audience(_safe_next(next, "/"))
    chosen = tab if tab in TABS else ("customer" if wanted == "customer" else "staff")
    context = {
        "next": next or "",
        "error": None,
        "tab": chosen,
        "other": other_session(request, state, web, wanted) if next else None,
    }
    return render(request, "login.html", context)


@router.post("/login", include_in_schema=False, dependencies=[CsrfChecked])
async def login(
    request: Request,
    state: StateDep,
    web: WebSessionDep,
    kind: Annotated[str, Form(max_length=16)] = "staff",
    token: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Check the credentials, then start a fresh session (new CSRF token) for that user.

    Throttled per account (e-mail sign-ins) and per client address: past the thresholds every
    attempt waits out a doubling backoff (429 with Retry-After), whatever the password.
    """
    tab = kind if kind in TABS else "staff"
    if tab == "staff" and token.strip() and not email.strip():
        tab = "token"  # the token form of older pages and scripts posts kind=staff
    account = {"staff": "employee", "customer": "customer"}.get(tab)
    context = {"next": next, "tab": tab, "email": email}
    thresholds = _thresholds(request, state, account, email)
    keys = list(thresholds)
    wait = await in_session(
        state,
        lambda s: login_service.wait_seconds(session=s, keys=keys, now=utcnow()),
        read_only=True,
    )
    if wait:
        return _too_many(request, context, wait)
    new = WebSession()
    if account is not None:
        subject = await _check_password(request, state, account, email, password)
        if subject is not None:
            new.kind, new.subject_id = account, subject
    elif token.strip():
        principal = await asyncio.to_thread(authenticate_token, state, token.strip())
        if principal is not None and principal.employee is None:
            new.kind = "admin"
        elif principal is not None:
            new.kind, new.subject_id = "employee", principal.employee_id
    if new.kind is None:
        await _record_failure(state, thresholds)
        error = (
            "That token does not belong to an active employee."
            if account is None
            else "Unknown e-mail or wrong password."
        )
        return render(request, "login.html", {**context, "error": error}, status_code=401)
    if account is not None:  # the account's failures are forgotten; the address's are not
        forget = [login_service.account_key(account, email)]
        await in_session(state, lambda s: login_service.clear(session=s, keys=forget))
    signed_in, subject_id = new.kind, new.subject_id
    new.sid = await in_session(
        state,
        lambda s: credentials.start_session(
            session=s,
            kind=signed_in,
            subject_id=subject_id,
            lifetime=timedelta(seconds=SESSION_MAX_AGE_SECONDS),
        ),
    )
    return redirect(request, _safe_next(next, home_for(new)), new)


def _thresholds(
    request: Request, state: AppState, account: str | None, email: str, prefix: str = ""
) -> dict[str, int]:
    """The throttle keys of this attempt (its address, the e-mail's account) and their limits;
    `prefix` keeps other counters (password resets) apart from the sign-in ones."""
    address = request.client.host if request.client else None
    limits = {
        prefix + login_service.address_key(address): state.settings.login_max_failures_per_address
    }
    if account is not None:
        key = prefix + login_service.account_key(account, email)
        limits[key] = state.settings.login_max_failures
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


def _too_many(
    request: Request, context: dict[str, Any], wait: float, template: str = "login.html"
) -> Response:
    seconds = login_service.retry_after_header(wait)
    what = "sign-ins" if template == "login.html" else "requests"
    error = f"Too many failed {what}. Try again in {seconds} seconds."
    page = render(request, template, {**context, "error": error}, status_code=429)
    page.headers["Retry-After"] = seconds
    return page


def _stored_password(session: Session, account: str, email: str) -> tuple[int, str | None] | None:
    """(id, password hash) of the active employee or the customer with this e-mail, or None."""
    if account == "employee":
        employee = employee_service.get_by_email(session=session, email=email)
        if employee is None or employee.id is None or not employee.active:
            return None
        return employee.id, employee.password_hash
    customer = customer_service.get_by_email(session=session, email=email.strip())
    if customer is None or customer.id is None:
        return None
    return customer.id, customer.password_hash


def _store_rehash(
    session: Session, account: str, subject: int, expected: str, rehashed: str
) -> bool:
    if account == "employee":
        return employee_service.replace_password_hash(
            session=session, employee_id=subject, expected=expected, password_hash=rehashed
        )
    return customer_service.replace_password_hash(
        session=session, customer_id=subject, expected=expected, password_hash=rehashed
    )


async def _check_password(
    request: Request, state: AppState, account: str, email: str, password: str
) -> int | None:
    """The employee or customer (`account`) these credentials open, or None; rehashes a hash
    of a lower cost."""
    found = await in_session(state, lambda s: _stored_password(s, account, email), read_only=True)
    stored = found[1] if found is not None else None
    # An unknown e-mail costs the same hash as a wrong password: no probing by timing.
    if not await _hashing(request, verify_password, password, stored):
        return None
    if found is None or stored is None:
        return None
    subject = found[0]
    if password_needs_rehash(stored):
        rehashed = await _hashing(request, hash_password, password)
        await in_session(state, lambda s: _store_rehash(s, account, subject, stored, rehashed))
    return subject


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
async def logout(
    request: Request,
    state: StateDep,
    web: WebSessionDep,
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """End the session, on the server too: a copy of the cookie no longer signs anyone in.
    With `next` (switching to the other kind of account): the sign-in form for that page."""
    if web.sid is not None:
        sid = web.sid
        await in_session(state, lambda s: credentials.end_session(session=s, key=sid))
    fresh = WebSession(flash="You are signed out.")
    target = _safe_next(next, "")
    if target:
        wanted = audience(target)
        fresh.flash = f"You are signed out. Sign in as {_AS[wanted]} to open {target}."
        return redirect(request, "/login?" + urlencode({"next": target, "tab": wanted}), fresh)
    return redirect(request, "/login", fresh)


_AS = {"customer": "a customer", "staff": "staff"}


# ---- set-password links (staff send one, or "forgot password?"; the person chooses) ---------

MIN_PASSWORD_LENGTH = 8
FORGOT_PATH = "/account/forgot-password"
__all__ = ["SET_PASSWORD_PATH", "LinkNotSent", "send_set_password_link"]


async def send_set_password_link(state: AppState, *, customer_id: int, actor: Actor) -> str:
    """E-mail the customer a one-time link to choose their customer-center password; returns
    the address (see conveyor.auth.flows.send_password_link)."""
    return await send_password_link(state, kind="customer", account_id=customer_id, actor=actor)


@router.get(FORGOT_PATH, include_in_schema=False)
def forgot_password_page(request: Request, web: WebSessionDep, email: str = "") -> Response:
    """The "forgot password?" form: an e-mail address."""
    return render(request, "forgot_password.html", {"email": email[:320], "error": None})


@router.post(FORGOT_PATH, include_in_schema=False, dependencies=[CsrfChecked])
async def forgot_password(
    request: Request,
    state: StateDep,
    web: WebSessionDep,
    background: BackgroundTasks,
    email: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    """Mail a set-password link to the staff member and/or customer with this e-mail.

    The answer is the same whether or not such an account exists: the mail goes out after the
    answer (so no timing tells either). Every request counts against the e-mail's and the
    address's reset throttle, which then waits out the sign-in's doubling backoff.
    """
    email = email.strip()
    context = {"email": email, "sent": False}
    if "@" not in email or len(email) < 3:
        context["error"] = "Enter the e-mail address you sign in with."
        return render(request, "forgot_password.html", context, status_code=422)
    thresholds = _thresholds(request, state, "account", email, prefix="reset-")
    keys = list(thresholds)
    wait = await in_session(
        state,
        lambda s: login_service.wait_seconds(session=s, keys=keys, now=utcnow()),
        read_only=True,
    )
    if wait:
        return _too_many(request, context, wait, "forgot_password.html")
    await _record_failure(state, thresholds)
    background.add_task(send_forgotten_password_links, state, email=email)
    hours = f"{state.settings.password_link_hours:g}"
    context.update(sent=True, error=None, hours=hours)
    return render(request, "forgot_password.html", context)


def _refused_link(request: Request) -> Response:
    context = {"status": 410, "detail": credentials.LINK_REFUSED}
    return render(request, "error.html", context, status_code=410)


@router.get(SET_PASSWORD_PATH, include_in_schema=False)
async def set_password_page(
    request: Request, state: StateDep, web: WebSessionDep, token: str = ""
) -> Response:
    """The form behind a set-password link (an unusable link: 410)."""
    try:
        link = await in_session(
            state,
            lambda s: credentials.usable_link(session=s, token=token),
            read_only=True,
        )
    except credentials.LinkRefused:
        return _refused_link(request)
    context = {"token": token, "error": None, "staff": link.employee_id is not None}
    return render(request, "set_password.html", context)


@router.post(SET_PASSWORD_PATH, include_in_schema=False, dependencies=[CsrfChecked])
async def set_password(
    request: Request,
    state: StateDep,
    web: WebSessionDep,
    token: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    confirm: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Spend the link: the customer's or employee's password is set, their sessions end."""
    try:  # checked before hashing: a made-up token costs no PBKDF2
        link = await in_session(
            state,
            lambda s: credentials.usable_link(session=s, token=token),
            read_only=True,
        )
    except credentials.LinkRefused:
        return _refused_link(request)
    error = None
    if len(password) < MIN_PASSWORD_LENGTH:
        error = f"The password needs at least {MIN_PASSWORD_LENGTH} characters."
    elif password != confirm:
        error = "The two passwords differ."
    if error is not None:
        context = {"token": token, "error": error, "staff": link.employee_id is not None}
        return render(request, "set_password.html", context, status_code=422)
    hashed = await _hashing(request, hash_password, password)
    try:
        await in_session(
            state,
            lambda s: credentials.set_password_with_link(
                session=s, token=token, password_hash=hashed
            ),
        )
    except credentials.LinkRefused:
        return _refused_link(request)
    fresh = WebSession(flash="Your password is set. Sign in with your e-mail and that password.")
    return redirect(request, "/login", fresh)
