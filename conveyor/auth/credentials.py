"""Credentials that end: server-side browser sessions and one-time set-password links.

Both hand out a random secret (in the signed cookie, in the e-mailed link) and store only its
SHA-256, so a copy of the database opens nothing.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, update
from sqlmodel import Session, col, select

from conveyor.audit.models import ActorKind, Source
from conveyor.audit.service import Actor, record
from conveyor.auth.models import LoginSession, SetPasswordLink
from conveyor.core.models import row_id, utcnow
from conveyor.core.security import hash_token, new_token
from conveyor.customer.models import Customer
from conveyor.employee.models import Employee

# ---- sessions -------------------------------------------------------------------------------


def start_session(
    *, session: Session, kind: str, subject_id: int | None, lifetime: timedelta
) -> str:
    """A new signed-in session; returns its id (for the cookie; only its hash is stored).

    Sessions past their end are deleted on the way, so the table holds only live ones.
    """
    now = utcnow()
    session.execute(delete(LoginSession).where(col(LoginSession.expires_at) < now))
    key = new_token()
    session.add(
        LoginSession(
            key_hash=hash_token(key),
            kind=kind,
            subject_id=subject_id,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    session.flush()
    return key


def find_session(*, session: Session, key: str, now: datetime | None = None) -> LoginSession | None:
    """The live session with this id, or None (signed out, ended, expired, never existed)."""
    row = session.exec(select(LoginSession).where(LoginSession.key_hash == hash_token(key))).first()
    if row is None or row.expires_at <= (now or utcnow()):
        return None
    return row


def end_session(*, session: Session, key: str) -> None:
    """Sign out: the session's row goes, and with it every copy of its cookie."""
    session.execute(delete(LoginSession).where(col(LoginSession.key_hash) == hash_token(key)))
    session.flush()


def end_sessions_of(*, session: Session, kind: str, subject_id: int) -> int:
    """End every session of one employee or customer; how many there were."""
    result = session.execute(
        delete(LoginSession)
        .where(col(LoginSession.kind) == kind)
        .where(col(LoginSession.subject_id) == subject_id)
    )
    session.flush()
    return int(getattr(result, "rowcount", 0) or 0)


# ---- set-password links ---------------------------------------------------------------------


LINK_REFUSED = "This link has expired or was already used. Ask us for a new one."


class LinkRefused(Exception):
    """The link is unknown, already used, superseded or expired (one message for all)."""


@dataclass(frozen=True)
class IssuedLink:
    """A link just created: its row and the secret that goes into the e-mail (never stored)."""

    link: SetPasswordLink
    token: str


Account = Customer | Employee


def account_kind(account: Account) -> str:
    """`employee` or `customer`: the session kind, audit entity and link column of `account`."""
    return "employee" if isinstance(account, Employee) else "customer"


def _links_of(account: Account) -> ColumnElement[bool]:
    if isinstance(account, Employee):
        return col(SetPasswordLink.employee_id) == row_id(account)
    return col(SetPasswordLink.customer_id) == row_id(account)


def issue_link(
    *, session: Session, account: Account, lifetime: timedelta, actor: Actor, reason: str = "sent"
) -> IssuedLink:
    """A new one-time link for the customer or employee, recorded in the audit log as sent by
    `actor` (`reason`: sent by staff, `forgotten` on request); earlier unused links of theirs
    stop working. The caller e-mails it after committing."""
    kind = account_kind(account)
    account_id = row_id(account)
    now = utcnow()
    session.execute(
        update(SetPasswordLink)
        .where(_links_of(account))
        .where(col(SetPasswordLink.used_at).is_(None))
        .values(used_at=now)
    )
    token = new_token()
    link = SetPasswordLink(
        customer_id=account_id if kind == "customer" else None,
        employee_id=account_id if kind == "employee" else None,
        token_hash=hash_token(token),
        sent_by=actor.name[:320],
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(link)
    session.flush()
    record(
        session,
        actor=actor,
        action=f"{kind}.password_link_send",
        entity=kind,
        entity_id=account_id,
        after={
            "link_id": link.id,
            "sent_to": account.email,
            "expires_at": link.expires_at,
            "reason": reason,
        },
    )
    return IssuedLink(link=link, token=token)


def _link_holder(link: SetPasswordLink) -> tuple[str, int]:
    if link.employee_id is not None:
        return "employee", link.employee_id
    return "customer", link.customer_id or 0


def withdraw_link(*, session: Session, link_id: int, reason: str, actor: Actor) -> None:
    """Make a link unusable (its e-mail could not be sent), recorded with `reason`."""
    link = session.get(SetPasswordLink, link_id)
    if link is None or link.used_at is not None:
        return
    link.used_at = utcnow()
    session.add(link)
    session.flush()
    kind, holder_id = _link_holder(link)
    record(
        session,
        actor=actor,
        action=f"{kind}.password_link_withdraw",
        entity=kind,
        entity_id=holder_id,
        after={"link_id": link_id, "reason": reason},
    )


def usable_link(*, session: Session, token: str, now: datetime | None = None) -> SetPasswordLink:
    """The link this token opens, if it is unused and not expired; else LinkRefused."""
    link = session.exec(
        select(SetPasswordLink).where(SetPasswordLink.token_hash == hash_token(token))
    ).first()
    if link is None or link.used_at is not None or link.expires_at <= (now or utcnow()):
        raise LinkRefused(LINK_REFUSED)
    return link


def use_link(*, session: Session, token: str) -> SetPasswordLink:
    """Spend the link (once: of two concurrent uses only one gets past the update)."""
    link = usable_link(session=session, token=token)
    now = utcnow()
    result = session.execute(
        update(SetPasswordLink)
        .where(col(SetPasswordLink.id) == row_id(link))
        .where(col(SetPasswordLink.used_at).is_(None))
        .values(used_at=now)
    )
    if not getattr(result, "rowcount", 0):
        raise LinkRefused(LINK_REFUSED)
    link.used_at = now
    return link


def set_password_with_link(
    *, session: Session, token: str, password_hash: str, source: Source = Source.PAGE
) -> Account:
    """Spend the link and give its customer or employee this password (hashed by the caller);
    every session of theirs ends (whoever was signed in must sign in again). The audit log
    names that person as the actor."""
    link = use_link(session=session, token=token)
    kind, holder_id = _link_holder(link)
    account: Account | None = (
        session.get(Employee, holder_id) if kind == "employee" else session.get(Customer, holder_id)
    )
    if account is None or (isinstance(account, Employee) and not account.active):
        raise LinkRefused(LINK_REFUSED)
    if isinstance(account, Employee):
        actor = Actor(
            name=account.email, kind=ActorKind.EMPLOYEE, source=source, employee_id=holder_id
        )
    else:
        actor = Actor(name=account.email, kind=ActorKind.CUSTOMER, source=source)
    had_password = account.password_hash is not None
    account.password_hash = password_hash
    session.add(account)
    session.flush()
    ended = end_sessions_of(session=session, kind=kind, subject_id=holder_id)
    # A customer's password opens their customer-center account; the key stays as it was.
    field = "customer_center_account" if kind == "customer" else "password"
    record(
        session,
        actor=actor,
        action=f"{kind}.password_set",
        entity=kind,
        entity_id=holder_id,
        before={field: had_password},
        after={field: True, "link_id": link.id, "sessions_ended": ended},
    )
    return account
