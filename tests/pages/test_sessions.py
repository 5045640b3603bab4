"""Server-side sessions and set-password links (issue 12, findings 8 and 10).

A signed-in cookie works only while its session row exists: signing out, a password reset or a
deactivation ends every copy of it. Staff never set a customer's password: they send a one-time,
expiring link, and the sending is in the audit log.
"""

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from conveyor.audit.models import AuditEntry
from conveyor.auth.models import LoginSession, SetPasswordLink
from conveyor.core.models import utcnow
from conveyor.core.security import hash_token
from conveyor.customer.models import Customer
from conveyor.notification.models import OutboxMessage
from conveyor.pages.web import (
    COOKIE,
    WebSession,
    decode_session,
    encode_session,
    session_secret,
)
from tests.conftest import ADMIN_TOKEN, Mailbox
from tests.utils.api import create_customer, create_employee
from tests.utils.pages import (
    CSRF,
    SET_PASSWORD_LINK,
    PageClient,
    customer_client,
    open_customer_account,
    staff_client,
)


def _copy(api: httpx.AsyncClient, client: PageClient) -> httpx.AsyncClient:
    """Another browser holding a copy of `client`'s session cookie."""
    thief = httpx.AsyncClient(transport=api._transport, base_url=str(api.base_url))
    thief.cookies.set(COOKIE, client.http.cookies[COOKIE])
    return thief


def _refused(page: httpx.Response) -> bool:
    return page.status_code == 303 and page.headers["location"].startswith("/login")


async def test_a_logged_out_cookie_signs_nobody_in(api: httpx.AsyncClient, engine: Engine) -> None:
    clerk = await create_employee(api, ["warehouse"])
    customer = await create_customer(api)
    open_customer_account(engine, customer["id"], "first-password")
    for client, home in (
        (await staff_client(api, clerk["token"]), "/inbox"),
        (await staff_client(api, ADMIN_TOKEN), "/inbox"),
        (await customer_client(api, customer["email"], "first-password"), "/customer"),
    ):
        copy = _copy(api, client)
        assert (await copy.get(home)).status_code == 200  # the copy works while signed in
        out = await client.post("/logout")
        assert out.status_code == 303
        assert _refused(await copy.get(home)), home
        assert _refused(await client.get(home))
        await copy.aclose()
        await client.aclose()
    with Session(engine) as session:
        assert session.exec(select(LoginSession)).all() == []


async def test_a_signed_cookie_without_its_session_row_is_refused(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    """The cookie's signature alone no longer signs anyone in (a stolen key, an old cookie)."""
    clerk = await create_employee(api, ["warehouse"])
    secret = session_secret(api._transport.app.state.conveyor)  # type: ignore[attr-defined]
    for web in (
        WebSession(kind="employee", subject_id=clerk["id"]),
        WebSession(kind="admin"),
        WebSession(kind="employee", subject_id=clerk["id"], sid="made-up"),
    ):
        forged = httpx.AsyncClient(transport=api._transport, base_url=str(api.base_url))
        forged.cookies.set(COOKIE, encode_session(web, secret))
        assert _refused(await forged.get("/inbox"))
        await forged.aclose()
    # A real session of one person does not open another person's account.
    browser = await staff_client(api, clerk["token"])
    with Session(engine) as session:
        [row] = session.exec(select(LoginSession)).all()
    other = await create_employee(api, ["warehouse"])
    web = WebSession(kind="employee", subject_id=other["id"])
    cookie = browser.http.cookies[COOKIE].strip('"')  # the jar keeps the header's quotes
    real = decode_session(cookie, secret)
    assert real is not None and real.sid is not None and hash_token(real.sid) == row.key_hash
    web.sid = real.sid
    swapped = httpx.AsyncClient(transport=api._transport, base_url=str(api.base_url))
    swapped.cookies.set(COOKIE, encode_session(web, secret))
    assert _refused(await swapped.get("/inbox"))
    await swapped.aclose()
    await browser.aclose()


def _links(engine: Engine, customer_id: int) -> list[SetPasswordLink]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(SetPasswordLink)
                .where(SetPasswordLink.customer_id == customer_id)
                .order_by(col(SetPasswordLink.id))
            ).all()
        )


async def _send_link(admin: PageClient, mailbox: Mailbox, customer: dict) -> str:
    before = len(mailbox.to(customer["email"]))
    sent = await admin.post(f"/customers/{customer['id']}/account", {"password": "ignored-1"})
    assert sent.status_code == 303
    page = await admin.get(f"/customers/{customer['id']}")
    assert "set-password link was sent" in page.text
    mails = mailbox.to(customer["email"])
    assert len(mails) == before + 1
    body = mails[-1].get_body(preferencelist=("plain",))
    assert body is not None
    found = SET_PASSWORD_LINK.search(body.get_content())
    assert found, body.get_content()
    return found.group(1)


async def _open_link(url: str, api: httpx.AsyncClient) -> tuple[PageClient, httpx.Response, str]:
    client = PageClient(api)
    path = urlparse(url)
    page = await client.get(f"{path.path}?{path.query}")
    token = parse_qs(path.query)["token"][0]
    if page.status_code == 200:
        client.csrf = CSRF.search(page.text).group(1)
    return client, page, token


async def test_staff_send_a_one_time_set_password_link(
    api: httpx.AsyncClient, engine: Engine, mailbox: Mailbox
) -> None:
    customer = await create_customer(api)
    admin = await staff_client(api, ADMIN_TOKEN)
    url = await _send_link(admin, mailbox, customer)

    # Staff set no password (the old form field is ignored); only the link's hash is stored,
    # no copy of the mail sits in the outbox; the sending is in the audit log.
    with Session(engine) as session:
        stored = session.get(Customer, customer["id"])
        assert stored is not None and stored.password_hash is None
        bodies = session.exec(select(OutboxMessage.body_text)).all()
        [sent] = session.exec(
            select(AuditEntry).where(AuditEntry.action == "customer.password_link_send")
        ).all()
    token = parse_qs(urlparse(url).query)["token"][0]
    [link] = _links(engine, customer["id"])
    assert link.token_hash == hash_token(token) and token not in link.token_hash
    assert not any(token in body for body in bodies)
    assert (sent.actor, sent.entity, sent.entity_id) == (
        "admin token",
        "customer",
        str(customer["id"]),
    )
    assert sent.after is not None and sent.after["sent_to"] == customer["email"]
    assert token not in str(sent.after)

    # The customer chooses a password: mismatches are refused, the link still works after.
    browser, form, _ = await _open_link(url, api)
    assert form.status_code == 200 and 'name="password"' in form.text
    short = await browser.post(
        "/account/set-password", {"token": token, "password": "short", "confirm": "short"}
    )
    differ = await browser.post(
        "/account/set-password",
        {"token": token, "password": "chosen-password", "confirm": "other-password"},
    )
    assert short.status_code == 422 and differ.status_code == 422
    done = await browser.post(
        "/account/set-password",
        {"token": token, "password": "chosen-password", "confirm": "chosen-password"},
    )
    assert done.status_code == 303 and done.headers["location"] == "/login"
    buyer = await customer_client(api, customer["email"], "chosen-password")
    assert (await buyer.get("/customer")).status_code == 200

    # Once only: the page and the form refuse the spent link.
    assert (await browser.get(urlparse(url).path + "?" + urlparse(url).query)).status_code == 410
    await browser.refresh_csrf("/login")  # a valid form token: only the link is at stake
    again = await browser.post(
        "/account/set-password",
        {"token": token, "password": "thief-password", "confirm": "thief-password"},
    )
    assert again.status_code == 410
    await browser.aclose()

    # A reset by link ends the customer's sessions: the signed-in copy stops working.
    url2 = await _send_link(admin, mailbox, customer)
    copy = _copy(api, buyer)
    browser, _, token2 = await _open_link(url2, api)
    reset = await browser.post(
        "/account/set-password",
        {"token": token2, "password": "newer-password", "confirm": "newer-password"},
    )
    assert reset.status_code == 303
    assert _refused(await buyer.get("/customer")) and _refused(await copy.get("/customer"))
    with Session(engine) as session:
        entries = session.exec(
            select(AuditEntry).where(AuditEntry.action == "customer.password_set")
        ).all()
    assert [e.actor for e in entries] == [customer["email"]] * 2
    assert entries[-1].after is not None and entries[-1].after["sessions_ended"] == 1
    for client in (browser, buyer, admin):
        await client.aclose()
    await copy.aclose()


async def test_a_set_password_link_expires_and_a_newer_one_replaces_it(
    api: httpx.AsyncClient, engine: Engine, mailbox: Mailbox
) -> None:
    customer = await create_customer(api)
    admin = await staff_client(api, ADMIN_TOKEN)
    first = await _send_link(admin, mailbox, customer)
    second = await _send_link(admin, mailbox, customer)
    _, page, _ = await _open_link(first, api)
    assert page.status_code == 410  # superseded by the newer link
    browser, page, token = await _open_link(second, api)
    assert page.status_code == 200
    with Session(engine) as session:
        link = session.exec(
            select(SetPasswordLink).where(SetPasswordLink.token_hash == hash_token(token))
        ).one()
        link.expires_at = utcnow() - timedelta(seconds=1)
        session.add(link)
        session.commit()
    expired = await browser.post(
        "/account/set-password",
        {"token": token, "password": "too-late-pass", "confirm": "too-late-pass"},
    )
    assert expired.status_code == 410
    _, page, _ = await _open_link(second, api)
    assert page.status_code == 410
    made_up = await browser.get("/account/set-password?token=nothing-like-it")
    assert made_up.status_code == 410
    with Session(engine) as session:
        stored = session.get(Customer, customer["id"])
        assert stored is not None and stored.password_hash is None
    await browser.aclose()
    await admin.aclose()


async def test_a_clerk_without_the_permission_sends_no_link(
    api: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    customer = await create_customer(api)
    clerk = await create_employee(api, ["warehouse"], clearance=0)
    browser = await staff_client(api, clerk["token"])
    refused = await browser.post(f"/customers/{customer['id']}/account", {})
    assert refused.status_code == 403
    assert mailbox.to(customer["email"]) == []
    await browser.aclose()
