"""Typed dependencies: settings, session, Temporal client, the caller and permission checks."""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from conveyor.audit.models import ActorKind, Source
from conveyor.audit.service import Actor
from conveyor.auth.permissions import ALL_ACCOUNTS_CLEARANCE, Permission, Role, allows, refusal
from conveyor.core.db import session_scope
from conveyor.core.models import utcnow
from conveyor.core.security import tokens_equal
from conveyor.core.state import AppState
from conveyor.employee import service as employee_service
from conveyor.employee.models import ADMIN_ROLE, Employee

log = logging.getLogger(__name__)


# Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in its
# thread pool, and each trip there costs a request more than the dependency itself.


async def get_state(request: Request) -> AppState:
    """The app's resources."""
    return request.app.state.conveyor


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    """One session per request (sync handlers only), committed when the handler succeeds."""
    with session_scope(state.engine) as session:
        yield session


# scope="function": committed before the answer is sent (FastAPI's default, "request", commits
# after it: a 201 could go out for a row whose commit then fails, and a quick next request
# would not see it yet).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def get_read_session(state: StateDep) -> AsyncIterator[Session]:
    """A session for handlers that only read (on SQLite it runs beside the writer).

    Opened and ended on the event loop: a new session takes its connection at the first query
    (in the handler's thread), and ending a read commits nothing (PostgreSQL's read side runs
    in autocommit; a SQLite read transaction ends without writing).
    """
    with session_scope(state.read_engine) as session:
        yield session


ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]


async def get_temporal(state: StateDep) -> Client:
    """The Temporal client; 503 when Temporal cannot be reached."""
    try:
        return await state.temporal()
    except Exception as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Temporal is unreachable") from exc


TemporalClientDep = Annotated[Client, Depends(get_temporal)]


@dataclass
class Principal:
    """Who is calling: an employee, or the admin token (which holds every role)."""

    employee: Employee | None
    is_admin: bool

    @property
    def name(self) -> str:
        """A display name for the trail."""
        return self.employee.email if self.employee else "admin token"

    @property
    def employee_id(self) -> int | None:
        """The employee id, None for the admin token."""
        return self.employee.id if self.employee else None

    def actor(self, source: Source) -> Actor:
        """Who the audit log names for this caller's changes made through `source`."""
        if self.employee is None:
            return Actor(name="admin token", kind=ActorKind.ADMIN_TOKEN, source=source)
        return Actor(
            name=self.employee.email,
            kind=ActorKind.EMPLOYEE,
            source=source,
            employee_id=self.employee.id,
        )

    def has_role(self, role: str) -> bool:
        """True when the caller may act for `role`."""
        return self.is_admin or (self.employee is not None and self.employee.has_role(role))

    def has_clearance(self, level: int) -> bool:
        """True when the caller's clearance is at least `level` (the admin token has all)."""
        return self.is_admin or (self.employee is not None and self.employee.clearance >= level)

    def can(self, permission: Permission) -> bool:
        """True when the caller holds `permission` (conveyor/auth/permissions.py)."""
        if self.is_admin:
            return True
        employee = self.employee
        return employee is not None and allows(permission, employee.roles, employee.clearance)

    def own_accounts_only(self) -> int | None:
        """The record rule of a sales rep below the all-accounts clearance: their employee id
        (they see the customers they own, and those customers' orders); None: sees all."""
        employee = self.employee
        if self.is_admin or employee is None or employee.clearance >= ALL_ACCOUNTS_CLEARANCE:
            return None
        others = [r for r in employee.roles if r != Role.SALES]
        if Role.SALES not in employee.roles or any(
            allows(Permission.CUSTOMERS_VIEW, [r], employee.clearance) for r in others
        ):
            return None
        return employee.id

    def role_refusal(self, roles: tuple[str, ...], action: str) -> str | None:
        """Why the caller may not do `action` without one of `roles`; None when allowed."""
        if any(self.has_role(role) for role in roles):
            return None
        needs = f"needs the {' or '.join(roles)} role"
        return f"{action} {needs}" if action else needs  # action "": the bare "needs the ..."

    def clearance_refusal(self, level: int, action: str) -> str | None:
        """Why the caller may not do `action` below clearance `level`; None when allowed."""
        return None if self.has_clearance(level) else f"{action} needs clearance {level}"


bearer = HTTPBearer(auto_error=False, description="Employee or admin bearer token")
MISSING_TOKEN = "missing bearer token"
INVALID_TOKEN = "invalid bearer token"
CHALLENGE = {"WWW-Authenticate": "Bearer"}
# Where api/guard.py leaves the principal it authenticated before the body was read.
PRINCIPAL_KEY = "conveyor_principal"


def authenticate_token(state: AppState, token: str) -> Principal | None:
    """The caller holding this bearer token (the admin token or an active employee's live
    token: not revoked, not expired), or None.

    The one token check: the API (here and in api/guard.py) and the staff sign-in page use it.
    """
    admin_token = state.settings.admin_token
    if admin_token and tokens_equal(token, admin_token):
        return Principal(employee=None, is_admin=True)
    # Its own short transaction: on SQLite a request session would hold the write lock from here
    # through any await on Temporal, and the workflow's activities need that lock.
    now = utcnow()
    with session_scope(state.read_engine) as session:
        found = employee_service.get_by_token(session=session, token=token, now=now)
    if found is None:
        return None
    employee, row = found
    if row.id is not None and employee_service.needs_touch(row, now):
        _touch(state, row.id, now)
    return Principal(employee=employee, is_admin=ADMIN_ROLE in employee.roles)


def _touch(state: AppState, token_id: int, now: datetime) -> None:
    """Record the token's use (every few minutes at most); a busy database only skips it."""
    try:
        with session_scope(state.engine) as session:
            employee_service.touch_token(session=session, token_id=token_id, now=now)
    except DBAPIError:
        log.warning("could not record the use of token %s", token_id, exc_info=True)


def authenticate_header(state: AppState, authorization: str | None) -> Principal | str:
    """The caller named by an `Authorization` header, or why not (MISSING_ or INVALID_TOKEN)."""
    scheme, token = get_authorization_scheme_param(authorization)
    if not authorization or scheme.lower() != "bearer" or not token:
        return MISSING_TOKEN
    return authenticate_token(state, token) or INVALID_TOKEN


async def get_principal(
    request: Request,
    state: StateDep,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """Authenticate the bearer token; 401 when missing or unknown."""
    # api/guard.py authenticated /api/ requests before reading their body.
    found = getattr(request.state, PRINCIPAL_KEY, None)
    if not isinstance(found, Principal):
        found = await run_in_threadpool(
            authenticate_header, state, request.headers.get("Authorization")
        )
    if isinstance(found, str):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, found, headers=CHALLENGE)
    return found


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def _forbid(refusal: str | None) -> None:
    if refusal is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, refusal)


def require_role(*roles: str, action: str = "this") -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency: the caller, or 403 unless they hold one of `roles` (admin holds all)."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        _forbid(principal.role_refusal(roles, action))
        return principal

    return dependency


def require_clearance(
    level: int, action: str = "this"
) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency: the caller, or 403 when their clearance is below `level`."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        _forbid(principal.clearance_refusal(level, action))
        return principal

    return dependency


@dataclass(frozen=True)
class Needs:
    """The dependency a route declares: the caller, or 403 unless they hold `permission`."""

    permission: Permission

    async def __call__(self, principal: CurrentPrincipal) -> Principal:
        if not principal.can(self.permission):
            raise HTTPException(status.HTTP_403_FORBIDDEN, refusal(self.permission))
        return principal


def require(permission: Permission) -> Any:
    """`Annotated[Principal, require(Permission.X)]`: what a JSON route needs to be called."""
    return Depends(Needs(permission))


async def require_admin(principal: CurrentPrincipal) -> Principal:
    """403 unless the caller is an admin."""
    if not principal.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "admin only")
    return principal


AdminPrincipal = Annotated[Principal, Depends(require_admin)]
