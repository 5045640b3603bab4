"""In a real browser: an administrator signs in with e-mail and password, adds an employee on
Settings > People; the employee opens the mailed link, chooses a password, signs in and lands
on the inbox."""

import uuid

import httpx
from sqlalchemy.engine import Engine

from conveyor.audit.service import Actor
from conveyor.core.db import session_scope
from conveyor.employee import service as employee_service
from tests.pages.test_browser import (  # noqa: F401 - fixtures
    browser,
    database_url,
    new_page,
    pytestmark,
    rules_dir,
    shot,
)
from tests.utils.api import create_employee
from tests.utils.people import mailed_link

ADMIN_PASSWORD = "admin-browser-pass"


async def _sign_in(page, email: str, password: str) -> None:
    await page.goto("/login")
    form = page.locator("[data-testid=staff-login]")
    await form.locator("input[name=email]").fill(email)
    await form.locator("input[name=password]").fill(password)
    await form.locator("button[type=submit]").click()
    await page.wait_for_url("**/inbox")


async def test_an_admin_adds_an_employee_who_sets_a_password_and_signs_in(
    api: httpx.AsyncClient,
    new_page,  # noqa: F811
    engine: Engine,
    mailbox,
) -> None:
    admin = await create_employee(api, ["admin"], clearance=5)
    with session_scope(engine) as session:
        employee = employee_service.get(session=session, employee_id=admin["id"])
        assert employee is not None
        employee_service.set_password(
            session=session, employee=employee, password=ADMIN_PASSWORD, actor=Actor.cli("test")
        )

    page = await new_page()
    await _sign_in(page, admin["email"], ADMIN_PASSWORD)
    await page.click("nav a[href='/settings']")
    await page.click("[data-testid=settings-links] a[href='/settings/people']")
    await page.wait_for_url("**/settings/people")
    await page.locator(f"[data-testid=list] tr[data-key='{admin['email']}']").wait_for()
    await shot(page, "people-01-list")
    await page.click("a:has-text('New employee')")
    email = f"wanda-{uuid.uuid4().hex[:6]}@people.example"
    form = page.locator("[data-testid=person-form]")
    await form.locator("input[name=name]").fill("Wanda Warehouse")
    await form.locator("input[name=email]").fill(email)
    await form.locator("input[name=roles][value=warehouse]").check()
    await form.locator("select[name=clearance]").select_option("2")
    await shot(page, "people-02-new")
    await form.locator("button:has-text('Add employee')").click()
    await page.wait_for_url("**/settings/people/*")
    await page.locator(f".flash:has-text('mailed to {email}')").wait_for()
    await shot(page, "people-03-added")

    link = mailed_link(mailbox, email)
    newcomer = await new_page()
    await newcomer.goto(httpx.URL(link).raw_path.decode())
    await newcomer.fill("input[name=password]", "wanda-own-pass")
    await newcomer.fill("input[name=confirm]", "wanda-own-pass")
    await newcomer.click("button:has-text('Set my password')")
    await newcomer.wait_for_url("**/login**")
    await _sign_in(newcomer, email, "wanda-own-pass")
    await newcomer.locator("text=Wanda Warehouse").first.wait_for()
    await shot(newcomer, "people-04-inbox")
