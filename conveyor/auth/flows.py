"""Set-password links by e-mail: issue one for a customer or an employee and hand it to the relay.

The mail goes straight to the relay, never into the outbox (where staff could read the link);
only the link's hash is stored, and a link whose mail could not be sent is withdrawn.
"""

import html
import logging
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import urlencode

from sqlmodel import Session

from conveyor.audit.models import ActorKind, Source
from conveyor.audit.service import Actor
from conveyor.auth import credentials
from conveyor.core.errors import NotFound
from conveyor.core.state import AppState, in_session
from conveyor.customer import service as customer_service
from conveyor.employee import service as employee_service
from conveyor.notification import delivery

log = logging.getLogger(__name__)
SET_PASSWORD_PATH = "/account/set-password"


class LinkNotSent(Exception):
    """The set-password e-mail could not be handed to the relay (the link was withdrawn)."""


def _what(kind: str) -> str:
    return "customer-center account" if kind == "customer" else "Conveyor staff account"


def password_mail(
    state: AppState, *, kind: str, to: str, name: str, url: str, hours: float
) -> EmailMessage:
    """The e-mail that carries a set-password link."""
    valid, what = f"{hours:g} hours", _what(kind)
    mail = EmailMessage()
    mail["From"] = state.settings.sender
    mail["To"] = to
    if kind == "customer":
        mail["Subject"] = "Choose your Conveyor customer-center password"
    else:
        mail["Subject"] = "Choose your Conveyor password"
    mail.set_content(
        f"Dear {name},\n\n"
        f"open this link to choose the password of your {what} ({to}):\n\n"
        f"{url}\n\n"
        f"It works once, within {valid}. If you did not expect this e-mail, ignore it.\n\n"
        f"-- \nConveyor · {state.settings.public_url}\n"
    )
    mail.add_alternative(
        f"<p>Dear {html.escape(name)},</p>"
        f"<p>open this link to choose the password of your {what} ({html.escape(to)}):</p>"
        f'<p><a href="{html.escape(url)}">Choose my password</a></p>'
        f"<p>It works once, within {valid}. If you did not expect this e-mail, ignore it.</p>",
        subtype="html",
    )
    return mail


def _account(session: Session, kind: str, account_id: int) -> credentials.Account | None:
    if kind == "employee":
        return employee_service.get(session=session, employee_id=account_id)
    return customer_service.get(session=session, customer_id=account_id)


async def send_password_link(
    state: AppState, *, kind: str, account_id: int, actor: Actor, reason: str = "sent"
) -> str:
    """Create a one-time set-password link for the customer or employee (`kind`) and e-mail
    it to them; returns the address. The sending is in the audit log.

    NotFound for an unknown (or, for employees, deactivated) account; LinkNotSent (the link
    withdrawn) when the relay refuses.
    """
    hours = state.settings.password_link_hours

    def issue(session: Session) -> tuple[str, str, credentials.IssuedLink]:
        account = _account(session, kind, account_id)
        if account is None or not getattr(account, "active", True):
            raise NotFound(f"{kind} {account_id} not found")
        issued = credentials.issue_link(
            session=session,
            account=account,
            lifetime=timedelta(hours=hours),
            actor=actor,
            reason=reason,
        )
        return account.email, account.name, issued

    email, name, issued = await in_session(state, issue)
    url = f"{state.settings.public_url}{SET_PASSWORD_PATH}?{urlencode({'token': issued.token})}"
    mail = password_mail(state, kind=kind, to=email, name=name, url=url, hours=hours)
    try:
        async with delivery.smtp_client(state.settings) as smtp:
            await smtp.send_message(mail)
    except delivery.SMTP_ERRORS as exc:
        link_id = issued.link.id or 0
        why = f"mail not sent: {type(exc).__name__}"
        await in_session(
            state,
            lambda s: credentials.withdraw_link(
                session=s, link_id=link_id, reason=why, actor=actor
            ),
        )
        raise LinkNotSent("the mail relay could not be reached; try again later") from exc
    return email


async def send_forgotten_password_links(state: AppState, *, email: str) -> int:
    """ "Forgot password?": a link to every account (active employee, customer) with this
    e-mail; how many were sent. Nothing tells the caller whether any exists (run it after the
    answer went out), so failures are only logged."""

    def holders(session: Session) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        employee = employee_service.get_by_email(session=session, email=email)
        if employee is not None and employee.active and employee.id is not None:
            found.append(("employee", employee.id))
        customer = customer_service.get_by_email(session=session, email=email.strip())
        if customer is not None and customer.id is not None:
            found.append(("customer", customer.id))
        return found

    sent = 0
    for kind, account_id in await in_session(state, holders, read_only=True):
        actor_kind = ActorKind.EMPLOYEE if kind == "employee" else ActorKind.CUSTOMER
        actor = Actor(
            name=email.strip().lower(),
            kind=actor_kind,
            source=Source.PAGE,
            employee_id=account_id if kind == "employee" else None,
        )
        try:
            await send_password_link(
                state, kind=kind, account_id=account_id, actor=actor, reason="forgotten"
            )
            sent += 1
        except (LinkNotSent, NotFound):
            log.warning("forgotten-password link for %s %s not sent", kind, account_id)
    return sent
