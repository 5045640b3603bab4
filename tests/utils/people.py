"""Helpers for the people pages: add an employee on Settings > People, read the link they are
mailed, sign them in with e-mail and password."""

import httpx

from tests.utils.pages import SET_PASSWORD_LINK, PageClient


def mailed_link(mailbox, email: str, count: int = 1) -> str:
    """The set-password link of the `count`-th such mail to `email` (there must be that many)."""
    mails = [m for m in mailbox.to(email) if "password" in str(m["Subject"])]
    assert len(mails) == count, [str(m["Subject"]) for m in mails]
    body = mails[-1].get_body(preferencelist=("plain",)).get_content()
    found = SET_PASSWORD_LINK.search(body)
    assert found, body
    return found.group(1)


async def add_person(
    admin: PageClient, *, name: str, email: str, roles: list[str], clearance: int = 2
) -> int:
    """Add the employee on the people page; their id (the page they land on)."""
    form = {"name": name, "email": email, "roles": roles, "clearance": str(clearance)}
    answer = await admin.post("/settings/people/new", form)
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith("/settings/people/"), location
    return int(location.rsplit("/", 1)[1])


async def sign_in(api: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    """A staff sign-in with e-mail and password from a fresh browser session."""
    client = PageClient(api)
    await client.open()
    answer = await client.post("/login", {"kind": "staff", "email": email, "password": password})
    await client.aclose()
    return answer


async def staff_password_client(api: httpx.AsyncClient, email: str, password: str) -> PageClient:
    """A staff member signed in with e-mail and password (landed on the inbox)."""
    client = PageClient(api)
    await client.open()
    answer = await client.post("/login", {"kind": "staff", "email": email, "password": password})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/inbox"
    await client.refresh_csrf("/inbox")
    return client
