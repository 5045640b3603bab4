"""Helpers for page tests: browser-like clients that sign in with a session cookie."""

import asyncio
import re
import time

import httpx
from sqlalchemy.engine import Engine

from conveyor.audit.service import Actor
from conveyor.core.db import session_scope
from conveyor.customer import service as customer_service

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class PageClient:
    """An httpx client without the admin bearer token, holding one browser session."""

    def __init__(self, api: httpx.AsyncClient) -> None:
        self.http = httpx.AsyncClient(
            transport=api._transport, base_url=str(api.base_url), timeout=60
        )
        self.csrf = ""

    async def open(self) -> None:
        """Fetch the sign-in page: the session cookie and its CSRF token."""
        page = await self.http.get("/login")
        assert page.status_code == 200, page.text
        self.csrf = CSRF.search(page.text).group(1)

    async def get(self, url: str, **kwargs) -> httpx.Response:
        return await self.http.get(url, **kwargs)

    async def post(self, url: str, data: dict | None = None, **kwargs) -> httpx.Response:
        """A form POST carrying the CSRF token (as a plain browser form does)."""
        return await self.http.post(url, data={"csrf_token": self.csrf, **(data or {})}, **kwargs)

    async def refresh_csrf(self, url: str) -> None:
        """Pick up the CSRF token of a freshly signed-in session from a page."""
        page = await self.http.get(url)
        self.csrf = CSRF.search(page.text).group(1)

    async def aclose(self) -> None:
        await self.http.aclose()


async def staff_client(api: httpx.AsyncClient, token: str) -> PageClient:
    """A signed-in employee (or admin with the admin token)."""
    client = PageClient(api)
    await client.open()
    answer = await client.post("/login", {"kind": "staff", "token": token})
    assert answer.status_code == 303, answer.text
    await client.refresh_csrf("/inbox")
    return client


def open_customer_account(engine: Engine, customer_id: int, password: str) -> None:
    """Give a customer a customer-center password."""
    with session_scope(engine) as session:
        customer = customer_service.get(session=session, customer_id=customer_id)
        assert customer is not None
        customer_service.set_password(
            session=session, customer=customer, password=password, actor=Actor.cli("test")
        )


async def customer_client(api: httpx.AsyncClient, email: str, password: str) -> PageClient:
    """A signed-in customer."""
    client = PageClient(api)
    await client.open()
    answer = await client.post("/login", {"kind": "customer", "email": email, "password": password})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/customer"
    await client.refresh_csrf("/customer")
    return client


async def wait_for_page(
    client: PageClient, url: str, text: str, timeout: float = 60.0
) -> httpx.Response:
    """Reload `url` until it contains `text`."""
    deadline = time.monotonic() + timeout
    page = None
    while time.monotonic() < deadline:
        page = await client.get(url)
        if text in page.text:
            return page
        await asyncio.sleep(0.2)
    raise AssertionError(f"{url} never showed {text!r}; last status {page and page.status_code}")


SET_PASSWORD_LINK = re.compile(r"(http://\S+/account/set-password\?token=[A-Za-z0-9_%-]+)")


async def send_set_password_link(staff: PageClient, mailbox, customer: dict) -> str:
    """Staff send the customer a set-password link (the page's button); the link from the mail."""
    before = [m for m in mailbox.to(customer["email"]) if "password" in str(m["Subject"])]
    sent = await staff.post(f"/customers/{customer['id']}/account")
    assert sent.status_code == 303, sent.text
    mails = [m for m in mailbox.to(customer["email"]) if "password" in str(m["Subject"])]
    assert len(mails) == len(before) + 1
    body = mails[-1].get_body(preferencelist=("plain",)).get_content()
    found = SET_PASSWORD_LINK.search(body)
    assert found, body
    return found.group(1)


async def choose_password(api: httpx.AsyncClient, link: str, password: str) -> None:
    """The customer opens the link and chooses `password`."""
    client = PageClient(api)
    url = httpx.URL(link)
    page = await client.get(url.raw_path.decode())
    assert page.status_code == 200, page.text
    client.csrf = CSRF.search(page.text).group(1)
    token = url.params["token"]
    done = await client.post(
        "/account/set-password", {"token": token, "password": password, "confirm": password}
    )
    assert done.status_code == 303, done.text
    await client.aclose()
