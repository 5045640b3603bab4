"""A page for the other kind of account (issue 14, item 16): a signed-in customer opening a staff
page, or staff opening the customer center, is told whose session it is and offered to switch,
instead of landing on the sign-in form without a word."""

import httpx
from sqlalchemy.engine import Engine

from tests.conftest import ADMIN_TOKEN
from tests.utils.api import create_customer, create_employee
from tests.utils.pages import customer_client, open_customer_account, staff_client


async def test_a_customer_on_a_staff_page_is_told_and_may_switch(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    customer = await create_customer(api, name="Fenwick Supplies")
    open_customer_account(engine, customer["id"], "a-long-password")
    browser = await customer_client(api, customer["email"], "a-long-password")

    sent = await browser.get("/inbox?scope=pool")
    assert sent.status_code == 303
    login = await browser.get(sent.headers["location"])
    assert login.status_code == 200
    assert 'data-testid="other-session"' in login.text
    assert "You are signed in as customer <strong" in login.text
    assert "Fenwick Supplies" in login.text and "this page is for staff" in login.text
    assert "Sign out and sign in as staff" in login.text
    assert 'href="/customer" data-testid="stay"' in login.text
    # Still signed in: the customer center keeps working until they choose to switch.
    assert (await browser.get("/customer")).status_code == 200

    switched = await browser.post("/logout", {"next": "/inbox?scope=pool"})
    assert switched.status_code == 303
    assert switched.headers["location"] == "/login?next=%2Finbox%3Fscope%3Dpool&tab=staff"
    form = await browser.get(switched.headers["location"])
    assert "Sign in as staff to open /inbox?scope=pool" in form.text
    assert 'data-testid="other-session"' not in form.text
    assert (await browser.get("/customer")).status_code == 303  # signed out for real
    # An outside address is never a place to go after signing out.
    await browser.refresh_csrf("/login")
    outside = await browser.post("/logout", {"next": "//evil.example/x"})
    assert outside.headers["location"] == "/login"
    await browser.aclose()


async def test_staff_in_the_customer_center_is_told_and_may_switch(
    api: httpx.AsyncClient,
) -> None:
    clerk = await create_employee(api, ["warehouse"])
    staff = await staff_client(api, clerk["token"])
    sent = await staff.get("/customer/orders/SO-000001")
    assert sent.status_code == 303
    login = await staff.get(sent.headers["location"])
    assert "You are signed in as staff member <strong" in login.text
    assert "Test Employee" in login.text and "this page is for customers" in login.text
    assert "Sign out and sign in as a customer" in login.text
    # The customer tab is the open one: that is the form this page needs.
    assert '<details open name="login">\n      <summary>Customer center</summary>' in login.text
    await staff.aclose()

    # Signed out, or signed in as the right kind: no such notice.
    admin = await staff_client(api, ADMIN_TOKEN)
    assert 'data-testid="other-session"' not in (await admin.get("/login?next=/inbox")).text
    await admin.aclose()
    nobody = await api.get("/login?next=/inbox", headers={"Authorization": ""})
    assert 'data-testid="other-session"' not in nobody.text
