"""Sign-in and sign-out pages (staff with their token, customers with e-mail and password), and
the page behind a customer's one-time set-password link."""

import asyncio
import html
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from api.deps import StateDep, authenticate_token
from conveyor.audit.service import Actor
from conveyor.auth import credentials
from conveyor.auth import service as login_service
from conveyor.core.errors import NotFound
from conveyor.core.models import utcnow
from conveyor.core.security import hash_password, password_needs_rehash, verify_password
from conveyor.core.state import AppState, in_session
from conveyor.customer import service as customer_service
from conveyor.notification import delivery
from conveyor.pages.web import (
    SESSION_MAX_AGE_SECONDS,
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
    signed_in, subject = new.kind, new.subject_id
    new.sid = await in_session(
        state,
        lambda s: credentials.start_session(
            session=s,
            kind=signed_in,
            subject_id=subject,
            lifetime=timedelta(seconds=SESSION_MAX_AGE_SECONDS),
        ),
    )
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
async def logout(request: Request, state: StateDep, web: WebSessionDep) -> Response:
    """End the session, on the server too: a copy of the cookie no longer signs anyone in."""
    if web.sid is not None:
        sid = web.sid
        await in_session(state, lambda s: credentials.end_session(session=s, key=sid))
    fresh = WebSession(flash="You are signed out.")
    return redirect(request, "/login", fresh)


# ---- set-password links (staff send one; the customer chooses the password) ----------------

SET_PASSWORD_PATH = "/account/set-password"
MIN_PASSWORD_LENGTH = 8


class LinkNotSent(Exception):
    """The set-password e-mail could not be handed to the relay (the link was withdrawn)."""


def _set_password_mail(
    state: AppState, *, to: str, name: str, url: str, hours: float
) -> EmailMessage:
    valid = f"{hours:g} hours"
    mail = EmailMessage()
    mail["From"] = state.settings.mail_from
    mail["To"] = to
    mail["Subject"] = "Choose your Conveyor customer-center password"
    mail.set_content(
        f"Dear {name},\n\n"
        "open this link to choose the password of your customer-center account:\n\n"
        f"{url}\n\n"
        f"It works once, within {valid}. If you did not expect this e-mail, ignore it.\n\n"
        f"-- \nConveyor · {state.settings.public_url}\n"
    )
    mail.add_alternative(
        f"<p>Dear {html.escape(name)},</p>"
        "<p>open this link to choose the password of your customer-center account:</p>"
        f'<p><a href="{html.escape(url)}">Choose my password</a></p>'
        f"<p>It works once, within {valid}. If you did not expect this e-mail, ignore it.</p>",
        subtype="html",
    )
    return mail


async def send_set_password_link(state: AppState, *, customer_id: int, actor: Actor) -> str:
    """Create a one-time set-password link for the customer and e-mail it to them; returns
    the address. The sending is in the audit log; only the link's hash is stored, and the mail
    goes straight to the relay (never into the outbox, where staff could read it).

    NotFound for an unknown customer; LinkNotSent (link withdrawn) when the relay refuses.
    """
    hours = state.settings.password_link_hours

    def issue(session: Session) -> tuple[str, str, credentials.IssuedLink]:
        customer = customer_service.get(session=session, customer_id=customer_id)
        if customer is None:
            raise NotFound(f"customer {customer_id} not found")
        issued = credentials.issue_link(
            session=session, customer=customer, lifetime=timedelta(hours=hours), actor=actor
        )
        return customer.email, customer.name, issued

    email, name, issued = await in_session(state, issue)
    url = f"{state.settings.public_url}{SET_PASSWORD_PATH}?{urlencode({'token': issued.token})}"
    mail = _set_password_mail(state, to=email, name=name, url=url, hours=hours)
    try:
        async with delivery.smtp_client(state.settings) as smtp:
            await smtp.send_message(mail)
    except delivery.SMTP_ERRORS as exc:
        link_id = issued.link.id or 0
        reason = f"mail not sent: {type(exc).__name__}"
        await in_session(
            state,
            lambda s: credentials.withdraw_link(
                session=s, link_id=link_id, reason=reason, actor=actor
            ),
        )
        raise LinkNotSent("the mail relay could not be reached; try again later") from exc
    return email


def _refused_link(request: Request) -> Response:
    context = {"status": 410, "detail": credentials.LINK_REFUSED}
    return render(request, "error.html", context, status_code=410)


@router.get(SET_PASSWORD_PATH, include_in_schema=False)
async def set_password_page(
    request: Request, state: StateDep, web: WebSessionDep, token: str = ""
) -> Response:
    """The form behind a set-password link (an unusable link: 410)."""
    try:
        await in_session(
            state,
            lambda s: credentials.usable_link(session=s, token=token),
            read_only=True,
        )
    except credentials.LinkRefused:
        return _refused_link(request)
    return render(request, "set_password.html", {"token": token, "error": None})


@router.post(SET_PASSWORD_PATH, include_in_schema=False, dependencies=[CsrfChecked])
async def set_password(
    request: Request,
    state: StateDep,
    web: WebSessionDep,
    token: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    confirm: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Spend the link: the customer's password is set, their other sessions end."""
    try:  # checked before hashing: a made-up token costs no PBKDF2
        await in_session(
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
        context = {"token": token, "error": error}
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
