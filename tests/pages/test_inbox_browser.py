"""In a real browser (issue 14, items 10 and 16): a warehouse clerk picks and packs an order in
three clicks from the inbox, a claimed task stays in view marked theirs, the order page's head
follows a payment without a reload, and a customer who opens a staff page is told whose
session it is and switches to staff in one click."""

from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from tests.conftest import ADMIN_TOKEN, ROOT
from tests.pages.test_browser import (  # noqa: F401 - fixtures
    browser,
    database_url,
    new_page,
    pytestmark,
    shot,
    sign_in_staff,
)
from tests.utils.api import (
    auth,
    create_customer,
    create_employee,
    create_product,
    place_order,
    wait_for_open_task,
    wait_for_order,
)
from tests.utils.pages import open_customer_account


@pytest.fixture
def rules_dir() -> Path:
    """The rules Conveyor ships: the warehouse picks (pool) and whoever picked packs."""
    return ROOT.parent / "routing_rules" / "rules"


async def test_pick_and_pack_take_three_clicks_and_the_order_head_follows(
    api: httpx.AsyncClient,
    worker,
    new_page,  # noqa: F811
) -> None:
    clerk = await create_employee(api, ["warehouse"], clearance=1)
    assert (
        await api.post(f"/api/employees/{clerk['id']}/clock-in", headers=auth(clerk))
    ).is_success
    product = await create_product(api, on_hand=10, price="30.00", name="Pallet wrap")
    customer = await create_customer(api, name="Quay Traders")
    order = await place_order(api, customer["id"], [(product["sku"], 2)], channel="phone")
    number = order["number"]
    await wait_for_open_task(api, number, "picking")

    page = await new_page()
    await sign_in_staff(page, clerk["token"])  # lands on My tasks
    clicks = 0

    async def click(locator) -> None:
        nonlocal clicks
        clicks += 1
        await locator.click()

    cards = page.locator(f"[data-testid=task][data-order='{number}']")
    await click(page.locator("label:has-text('Role pool')"))
    await page.wait_for_url("**/inbox?scope=pool**")
    picking = cards.and_(page.locator("[data-step=picking]"))
    await click(picking.locator("button:has-text('Complete')"))
    await page.wait_for_selector("#notice:has-text('completed')")
    # The packing came to the picker and shows up in the same view, marked theirs.
    packing = cards.and_(page.locator("[data-step=packing][data-yours=true]"))
    await packing.locator("[data-testid=yours]").wait_for()
    await shot(page, "inbox-01-packing-is-yours")
    await click(packing.locator("button:has-text('Complete')"))
    await page.wait_for_selector("#notice:has-text('completed')")
    assert clicks == 3  # was 8: pool, claim, my tasks, complete, for each of the two tasks
    running = await wait_for_order(api, number, lambda o: o["current_step"] == "collection")
    done = [t for t in running["tasks"] if t["step"] in ("picking", "packing")]
    assert [t["assignee_id"] for t in done] == [clerk["id"], clerk["id"]]

    # A task claimed from the pool stays in view, marked as the clerk's.
    second = await place_order(api, customer["id"], [(product["sku"], 1)], channel="phone")
    task = await wait_for_open_task(api, second["number"], "picking")
    card = page.locator(f"[data-testid=task][data-task='{task['id']}']")
    await card.locator("button:has-text('Claim')").click()
    await page.wait_for_selector("#notice:has-text('is yours')")
    await card.locator("[data-testid=yours]").wait_for()
    assert await card.locator("button:has-text('Give back')").count() == 1

    # The order page's status follows a payment recorded elsewhere, without a reload.
    boss = await new_page()
    await sign_in_staff(boss, ADMIN_TOKEN)
    await boss.goto(f"/orders/{number}")
    status = boss.locator("[data-testid=order-status]")
    assert await status.inner_text() != "completed"
    paid = await api.post(
        f"/api/orders/{number}/payments",
        json={"amount": running["totals"]["balance"], "method": "bank_transfer"},
    )
    assert paid.status_code == 201, paid.text
    await boss.wait_for_selector("[data-testid=order-status]:has-text('completed')")
    assert await boss.locator("[data-testid=current-step]").count() == 0
    await shot(boss, "inbox-02-order-head-after-payment")


async def test_a_customer_on_a_staff_page_switches_to_staff(
    api: httpx.AsyncClient,
    engine: Engine,
    new_page,  # noqa: F811
) -> None:
    customer = await create_customer(api, name="Marlow & Daughters")
    open_customer_account(engine, customer["id"], "pass-of-marlow")
    page = await new_page()
    await page.goto("/login?tab=customer")
    login = page.locator("[data-testid=customer-login]")
    await login.locator("input[name=email]").fill(customer["email"])
    await login.locator("input[name=password]").fill("pass-of-marlow")
    await login.locator("button[type=submit]").click()
    await page.wait_for_url("**/customer")

    await page.goto("/orders")
    notice = page.locator("[data-testid=other-session]")
    await notice.wait_for()
    text = await notice.inner_text()
    assert "You are signed in as customer Marlow & Daughters" in text
    assert "this page is for staff" in text
    await shot(page, "session-01-customer-on-a-staff-page")
    await notice.locator("[data-testid=switch-account]").click()
    await page.wait_for_url("**/login?next=%2Forders&tab=staff")
    assert "Sign in as staff to open /orders" in await page.locator("[role=status]").inner_text()
    await page.fill("input[name=token]", ADMIN_TOKEN)
    await page.click("form:has(input[name=token]) button[type=submit]")
    await page.wait_for_url("**/orders")
    assert await page.locator("[data-testid=whoami]").inner_text() == "Administrator"
