"""Web sessions for the pages: a signed cookie, CSRF tokens, the signed-in user, rendering."""

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from importlib.resources import files
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session
from temporalio.service import RPCError

from api.deps import Principal, StateDep
from conveyor.auth import credentials
from conveyor.auth.permissions import Permission, refusal
from conveyor.core.db import (
    DATABASE_BUSY,
    DATABASE_UNREACHABLE,
    RETRY_AFTER_SECONDS,
    outage,
    session_scope,
)
from conveyor.core.errors import DomainError, Forbidden
from conveyor.core.models import utcnow
from conveyor.core.signing import server_secret
from conveyor.core.state import AppState
from conveyor.customer import service as customer_service
from conveyor.customer.models import Customer
from conveyor.employee import service as employee_service
from conveyor.employee.models import ADMIN_ROLE
from conveyor.order import wording
from conveyor.task import outcomes as task_outcomes

log = logging.getLogger(__name__)
COOKIE = "conveyor_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_MAX_AGE_SECONDS = 12 * 3600
TEMPLATES = Jinja2Templates(directory=str(files("conveyor.pages") / "templates"))


@dataclass
class WebSession:
    """What the cookie carries: who is signed in (kind + id) and the session's CSRF token."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    kind: str | None = None  # employee | admin | customer
    subject_id: int | None = None
    # The server-side session (auth.credentials): a signed-in cookie is honoured only while its
    # row exists, so signing out, a password reset or a deactivation ends every copy of it.
    sid: str | None = None
    issued: float = field(default_factory=time.time)
    flash: str | None = None  # the outcome of the last action, shown once on the next page
    alert: str | None = None  # the same for an action that was refused or failed (in red)
    new: bool = False  # not (yet) in the browser: the response must set the cookie


class CsrfRefused(Exception):
    """A state-changing request without the session's CSRF token (answered 403)."""


class SignInRequired(Exception):
    """The page needs a signed-in user of another kind; the handler redirects to /login."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def session_secret(state: AppState) -> bytes:
    """The key that signs cookies: CONVEYOR_SESSION_SECRET, else a key in the data folder."""
    return server_secret(state.settings)


def _secret(request: Request) -> bytes:
    app_state = request.app.state
    if getattr(app_state, "pages_secret", None) is None:
        app_state.pages_secret = session_secret(app_state.conveyor)
    return app_state.pages_secret


def encode_session(web: WebSession, secret: bytes) -> str:
    """The signed cookie value."""
    payload = {k: v for k, v in asdict(web).items() if k != "new"}
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()
    signature = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{signature}"


def decode_session(value: str, secret: bytes) -> WebSession | None:
    """The session in a cookie, or None when it is forged, malformed or expired."""
    body, _, signature = value.rpartition(".")
    expected = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
    if not body or not hmac.compare_digest(signature, expected):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body.encode()))
        web = WebSession(**data)
    except (ValueError, TypeError):
        return None
    if time.time() - web.issued > SESSION_MAX_AGE_SECONDS:
        return None
    return web


def web_session(request: Request) -> WebSession:
    """The browser's session (a fresh anonymous one, with its own CSRF token, when absent)."""
    cached = getattr(request.state, "web_session", None)
    if cached is not None:
        return cached
    raw = request.cookies.get(COOKIE)
    web = decode_session(raw, _secret(request)) if raw else None
    if web is None:
        web = WebSession(new=True)
    request.state.web_session = web
    return web


async def get_web_session(request: Request) -> WebSession:
    """The browser's session, as a dependency (no I/O: on the event loop, not the threads)."""
    return web_session(request)


WebSessionDep = Annotated[WebSession, Depends(get_web_session)]


def store_session(request: Request, response: Response, web: WebSession) -> None:
    """Write the session cookie (HttpOnly, SameSite=Lax; Secure as settings.secure_cookies says:
    a proxy that speaks plain HTTP to us must not make it travel in the clear)."""
    state: AppState = request.app.state.conveyor
    response.set_cookie(
        COOKIE,
        encode_session(web, _secret(request)),
        max_age=SESSION_MAX_AGE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=state.settings.secure_cookies,
        path="/",
    )


def flash_redirect(request: Request, web: WebSession, url: str, text: str) -> Response:
    """A 303 to `url` that shows `text` there as the flash (a green note)."""
    web.flash = text
    response = RedirectResponse(url, status_code=303)
    store_session(request, response, web)
    return response


async def require_csrf(request: Request, web: WebSessionDep) -> None:
    """403 unless a state-changing request carries the session's CSRF token."""
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if web.new or not given or not hmac.compare_digest(given, web.csrf):
        raise CsrfRefused()


CsrfChecked = Depends(require_csrf)


def _next_url(request: Request) -> str:
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return path


def _live_session(session: Session, web: WebSession, kind: str) -> bool:
    """True when the cookie's server-side session still exists and is the cookie's user's."""
    if web.kind != kind or web.sid is None:
        return False
    row = credentials.find_session(session=session, key=web.sid)
    return row is not None and row.kind == kind and row.subject_id == web.subject_id


def get_staff(request: Request, state: StateDep, web: WebSessionDep) -> Principal:
    """The signed-in employee (or admin) as a Principal; otherwise off to /login."""
    if web.kind == "admin" and state.settings.admin_token:
        with session_scope(state.read_engine) as session:
            if _live_session(session, web, "admin"):
                return Principal(employee=None, is_admin=True)
    if web.kind == "employee" and web.subject_id is not None:
        with session_scope(state.read_engine) as session:
            live = _live_session(session, web, "employee")
            employee = employee_service.get(session=session, employee_id=web.subject_id)
        if live and employee is not None and employee.active:
            return Principal(employee=employee, is_admin=ADMIN_ROLE in employee.roles)
    raise SignInRequired(_next_url(request))


StaffDep = Annotated[Principal, Depends(get_staff)]


@dataclass(frozen=True)
class PageNeeds:
    """The dependency a staff page declares: the signed-in employee, or the 403 error page
    unless they hold `permission` (signed out: off to /login first)."""

    permission: Permission

    async def __call__(self, principal: StaffDep) -> Principal:
        if not principal.can(self.permission):
            raise Forbidden(refusal(self.permission))
        return principal


def require_page(permission: Permission) -> Any:
    """`Annotated[Principal, require_page(Permission.X)]`: what a staff page needs."""
    return Depends(PageNeeds(permission))


def get_customer(request: Request, state: StateDep, web: WebSessionDep) -> Customer:
    """The signed-in customer; otherwise off to /login."""
    if web.kind == "customer" and web.subject_id is not None:
        with session_scope(state.read_engine) as session:
            live = _live_session(session, web, "customer")
            customer = customer_service.get(session=session, customer_id=web.subject_id)
        if live and customer is not None and customer.password_hash:
            return customer
    raise SignInRequired(_next_url(request))


CustomerDep = Annotated[Customer, Depends(get_customer)]


def login_redirect_url(next_url: str) -> str:
    """/login with where to go afterwards."""
    return f"/login?next={quote(next_url, safe='/')}"


def is_htmx(request: Request) -> bool:
    """True for requests htmx sends (partial updates)."""
    return request.headers.get("hx-request") == "true"


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    principal: Principal | None = None,
    customer: Customer | None = None,
) -> HTMLResponse:
    """Render a template with the session, CSRF token and user; set the cookie when new."""
    web = web_session(request)
    flash, web.flash = web.flash, None
    alert, web.alert = web.alert, None
    state: AppState = request.app.state.conveyor
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "csrf_token": web.csrf,
            "principal": principal,
            "customer": customer,
            "flash": flash,
            "alert": alert,
            "now": utcnow(),
            "settings": state.settings,
            **(context or {}),
        },
        status_code=status_code,
    )
    if web.new or flash or alert:
        web.new = False
        store_session(request, response, web)
    return response


def _datetime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.strftime(fmt) + " UTC" if value else "—"


def _money(value: Decimal | float | int | None, currency: str = "") -> str:
    if value is None:
        return "—"
    text = f"{Decimal(value):,.2f}"
    return f"{text} {currency}".strip()


# A duration in its two largest units, the second left out when zero: 45s, 30m, 4h 5m, 1d.
DURATION_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    left = max(int(seconds), 0)
    parts = []
    for name, size in DURATION_UNITS:
        if left >= size or (parts and len(parts) < 2):
            parts.append((left // size, name))
            left %= size
        if len(parts) == 2:
            break
    shown = [f"{value}{name}" for value, name in parts if value] or ["0s"]
    return " ".join(shown)


def _relative(value: datetime | None) -> str:
    if value is None:
        return "—"
    delta = (value - utcnow()).total_seconds()
    text = _duration(abs(delta))
    return f"in {text}" if delta > 0 else f"{text} ago"


def _label(value: str | None) -> str:
    return (value or "—").replace("_", " ")


def _trail_text(event: Any, units: int | None = None) -> str:
    """A trail entry (OrderEvent) as a sentence for staff."""
    return wording.staff_event(event.kind, event.step, event.message, units=units)


def _price_note(line: Any, for_customer: bool = False) -> str | None:
    return wording.price_note(line, for_customer=for_customer)


TEMPLATES.env.filters.update(
    trail_text=_trail_text,
    price_note=_price_note,
    customer_step=wording.customer_step,
    customer_status=wording.customer_status,
    customer_price_rule=wording.customer_price_rule,
    percent_off=wording.percent_off,
    datetime=_datetime,
    money=_money,
    duration=_duration,
    relative=_relative,
    label=_label,
    outcomes=task_outcomes.for_step,
)


def unavailable(exc: Exception) -> bool:
    """True when `exc` says Temporal or the database cannot be reached (not a bug of ours)."""
    if isinstance(exc, RPCError | OSError | TimeoutError | DBAPIError | PoolTimeout):
        return True
    # core.temporal.connect gives up with the SDK's RuntimeError("Failed client connect: ...").
    return isinstance(exc, RuntimeError) and "client connect" in str(exc)


def unavailable_text(exc: Exception) -> str:
    """What an outage page says is wrong: the database busy, unreachable, or the workflow engine."""
    what = {
        DATABASE_BUSY: "The database is busy: another program has held it locked for too long.",
        DATABASE_UNREACHABLE: "The database cannot be reached right now.",
    }.get(outage(exc) or "")
    if what is None:
        what = (
            "The workflow engine or the database cannot be reached right now."
            if isinstance(exc, DBAPIError)
            else "The workflow engine (Temporal) cannot be reached right now."
        )
    return f"{what} Nothing was lost; try again in a moment."


class PageRoute(APIRoute):
    """A page route: an outage of Temporal or the database becomes a 503 page, logged."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                if not unavailable(exc):
                    raise
                log.exception("page %s failed: a service is unreachable", request.url.path)
                response = render(
                    request,
                    "error.html",
                    {"status": 503, "detail": unavailable_text(exc)},
                    status_code=503,
                )
                response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
                return response

        return handle


def page_router() -> APIRouter:
    """A router whose routes are pages (see PageRoute)."""
    return APIRouter(route_class=PageRoute)


# ---- refusals -------------------------------------------------------------------------------

# Refusals that get the error page even where a page flashes the others: who may not, and what
# is not there.
ERROR_PAGE_STATUSES = (403, 404)


def page_refusal(
    request: Request,
    refusal: DomainError | str,
    *,
    web: WebSession | None = None,
    flash: str | None = None,
    back: str | None = None,
    principal: Principal | None = None,
    customer: Customer | None = None,
) -> Response:
    """What a page shows when a flow, a service or a permission check refuses.

    `refusal` is a DomainError, or the text of a permission refusal (`Principal.role_refusal`,
    `clearance_refusal`), which is a 403. Without `back`: the error page, with the refusal's
    status and message. With `back` and `web`: a refusal other than 403/404 becomes the alert
    (a red flash) `"<flash>: <message>"` (the message alone without `flash`) and a 303 to `back`.
    """
    exc = Forbidden(refusal) if isinstance(refusal, str) else refusal
    if back is not None and web is not None and exc.status not in ERROR_PAGE_STATUSES:
        web.alert = f"{flash}: {exc.message}" if flash else exc.message
        response = RedirectResponse(back, status_code=303)
        store_session(request, response, web)
        return response
    return render(
        request,
        "error.html",
        {"status": exc.status, "detail": exc.message},
        status_code=exc.status,
        principal=principal,
        customer=customer,
    )
