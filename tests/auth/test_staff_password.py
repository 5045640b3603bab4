"""Staff sign in with e-mail and password: the first password through a link mailed when they
are added on Settings > People (once, until it expires), "forgot password?" the same way without
telling who has an account, the throttle, deactivation; tokens from the page for the JSON API."""

import asyncio
import re
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col

from conveyor.auth.models import SetPasswordLink
from conveyor.core.db import session_scope
from conveyor.core.models import utcnow
from conveyor.core.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.utils.pages import PageClient, choose_password, staff_client
from tests.utils.people import add_person, mailed_link, sign_in, staff_password_client

PASSWORD = "first-password-1"
MAX_FAILURES = 3
BACKOFF = 4.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Three failed sign-ins per account, then a 4 s backoff; many per address."""
    return settings.model_copy(
        update={
            "login_max_failures": MAX_FAILURES,
            "login_max_failures_per_address": 50,
            "login_backoff_seconds": BACKOFF,
        }
    )


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}@staff.example"


async def _new_person(api: httpx.AsyncClient, mailbox, roles: list[str]) -> tuple[int, str, str]:
    """An employee added on the people page: (id, e-mail, the link they were mailed)."""
    admin = await staff_client(api, ADMIN_TOKEN)
    email = _email("new")
    employee_id = await add_person(admin, name="Nina New", email=email, roles=roles)
    await admin.aclose()
    return employee_id, email, mailed_link(mailbox, email)


async def _open_link(api: httpx.AsyncClient, link: str) -> tuple[PageClient, httpx.Response]:
    client = PageClient(api)
    await client.open()
    return client, await client.get(httpx.URL(link).raw_path.decode())


async def test_the_mailed_link_sets_the_password_once_and_the_employee_signs_in(
    api: httpx.AsyncClient, mailbox
) -> None:
    employee_id, email, link = await _new_person(api, mailbox, ["order_desk"])
    assert (await sign_in(api, email, PASSWORD)).status_code == 401  # no password yet
    await choose_password(api, link, PASSWORD)

    desk = await staff_password_client(api, email.upper(), PASSWORD)  # e-mail case-insensitive
    inbox = await desk.get("/inbox")
    assert inbox.status_code == 200 and "Nina New" in inbox.text
    await desk.aclose()

    again, page = await _open_link(api, link)
    assert page.status_code == 410
    token = httpx.URL(link).params["token"]
    reused = await again.post(
        "/account/set-password", {"token": token, "password": "other-pass-1", "confirm": "x"}
    )
    assert reused.status_code == 410
    await again.aclose()
    assert (await sign_in(api, email, "other-pass-1")).status_code == 401
    wrong = await sign_in(api, email, "not-the-password")
    assert wrong.status_code == 401 and "Unknown e-mail or wrong password." in wrong.text

    history = (await api.get(f"/api/audit?entity=employee&entity_id={employee_id}")).json()
    actions = [e["action"] for e in history["entries"]]
    assert "employee.password_link_send" in actions and "employee.password_set" in actions
    assert PASSWORD not in str(history)


async def test_an_expired_link_is_refused(api: httpx.AsyncClient, mailbox, engine: Engine) -> None:
    _, email, link = await _new_person(api, mailbox, ["warehouse"])
    with session_scope(engine) as session:
        session.execute(
            update(SetPasswordLink)
            .where(col(SetPasswordLink.employee_id).is_not(None))
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    client, page = await _open_link(api, link)
    assert page.status_code == 410
    await client.aclose()
    assert (await sign_in(api, email, PASSWORD)).status_code == 401


async def test_wrong_passwords_are_throttled_even_for_the_right_one(
    api: httpx.AsyncClient, mailbox
) -> None:
    _, email, link = await _new_person(api, mailbox, ["sales"])
    await choose_password(api, link, PASSWORD)
    for _ in range(MAX_FAILURES):
        assert (await sign_in(api, email, "wrong-password")).status_code == 401
    held = await sign_in(api, email, PASSWORD)
    assert held.status_code == 429 and int(held.headers["Retry-After"]) >= 1
    await asyncio.sleep(BACKOFF + 0.5)
    assert (await sign_in(api, email, PASSWORD)).status_code == 303


async def test_a_deactivated_employee_cannot_sign_in_and_is_signed_out(
    api: httpx.AsyncClient, mailbox
) -> None:
    employee_id, email, link = await _new_person(api, mailbox, ["order_desk"])
    await choose_password(api, link, PASSWORD)
    desk = await staff_password_client(api, email, PASSWORD)

    admin = await staff_client(api, ADMIN_TOKEN)
    done = await admin.post(f"/settings/people/{employee_id}/deactivate", {"confirm": "yes"})
    assert done.status_code == 303
    await admin.aclose()

    signed_out = await desk.get("/inbox")
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/login")
    await desk.aclose()
    assert (await sign_in(api, email, PASSWORD)).status_code == 401


async def _forgot(api: httpx.AsyncClient, email: str) -> httpx.Response:
    client = PageClient(api)
    await client.open()
    answer = await client.post("/account/forgot-password", {"email": email})
    await client.aclose()
    return answer


def _answer_text(page: httpx.Response) -> str:
    """The answer without what differs by the address typed (the address, the CSRF token)."""
    main = page.text.split("<main", 1)[-1]
    return re.sub(r'value="[^"]*"|\S+@\S+\.example', "", main)


async def _wait_for_mails(mailbox, email: str, count: int) -> None:
    for _ in range(100):
        if len([m for m in mailbox.to(email) if "password" in str(m["Subject"])]) >= count:
            return
        await asyncio.sleep(0.05)


async def test_forgot_password_mails_a_link_and_answers_the_same_for_an_unknown_address(
    api: httpx.AsyncClient, mailbox
) -> None:
    _, email, link = await _new_person(api, mailbox, ["credit"])
    await choose_password(api, link, PASSWORD)

    known = await _forgot(api, email)
    unknown_address = _email("nobody")
    unknown = await _forgot(api, unknown_address)
    assert known.status_code == unknown.status_code == 200
    assert _answer_text(known) == _answer_text(unknown)
    await _wait_for_mails(mailbox, email, 2)
    reset = mailed_link(mailbox, email, count=2)
    assert mailbox.to(unknown_address) == []

    await choose_password(api, reset, "second-password-2")
    assert (await sign_in(api, email, PASSWORD)).status_code == 401
    staff = await staff_password_client(api, email, "second-password-2")
    await staff.aclose()


async def test_a_token_created_on_the_page_works_until_it_is_revoked(
    api: httpx.AsyncClient, mailbox
) -> None:
    employee_id, _, _ = await _new_person(api, mailbox, ["warehouse"])
    admin = await staff_client(api, ADMIN_TOKEN)
    issued = await admin.post(f"/settings/people/{employee_id}/tokens", {"name": "scanner"})
    assert issued.status_code == 200 and issued.headers["cache-control"] == "no-store"
    assert "shown only this once" in issued.text
    token = issued.text.split('data-testid="new-token">', 1)[1].split("<", 1)[0]

    script = httpx.AsyncClient(transport=api._transport, base_url=str(api.base_url))
    shifts = f"/api/employees/{employee_id}/attendance"
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await script.get(shifts, headers=bearer)).status_code == 200
    record = (await admin.get(f"/settings/people/{employee_id}")).text
    assert token not in record  # shown once only
    row = record.split('data-testid="token"', 1)[1].split("</tr>", 1)[0]
    assert "scanner" in row and " UTC" in row  # created and last used
    token_id = re.search(r'data-token-id="(\d+)"', record).group(1)

    unconfirmed = await admin.post(f"/settings/people/{employee_id}/tokens/{token_id}/revoke")
    assert unconfirmed.status_code == 303
    assert (await script.get(shifts, headers=bearer)).status_code == 200
    revoked = await admin.post(
        f"/settings/people/{employee_id}/tokens/{token_id}/revoke", {"confirm": "yes"}
    )
    assert revoked.status_code == 303
    assert (await script.get(shifts, headers=bearer)).status_code == 401
    record = (await admin.get(f"/settings/people/{employee_id}")).text
    assert "employee.token_issue" in record and "employee.token_revoke" in record
    await script.aclose()
    await admin.aclose()
