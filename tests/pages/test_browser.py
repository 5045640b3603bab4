"""Browser tests: Playwright drives Debian's Chromium against the app on a real port.

SQLite only (the page tests cover PostgreSQL); screenshots of each page go to tests/artifacts/.
"""

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.engine import Engine

from tests.conftest import ADMIN_TOKEN, RULES, fresh_sqlite_url
from tests.utils.api import create_customer, create_employee, create_product, place_order
from tests.utils.pages import open_customer_account

playwright_api = pytest.importorskip("playwright.async_api")

CHROMIUM = os.environ.get("CONVEYOR_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
WAIT_MS = 30_000

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (make test installs it)"
)


@pytest.fixture
def rules_dir() -> Path:
    """Wholesale quotes, web order-desk tasks, phone tasks with a 1 s SLA."""
    return RULES / "pages"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: one browser run is enough; the HTTP page tests cover PostgreSQL."""
    return fresh_sqlite_url(tmp_path)


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator:
    """One Chromium for the run."""
    async with playwright_api.async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest_asyncio.fixture
async def new_page(browser, live_server: str):
    """A factory of pages, each in its own browser context (its own cookies)."""
    contexts = []

    async def make():
        context = await browser.new_context(
            base_url=live_server, viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        return await context.new_page()

    yield make
    for context in contexts:
        await context.close()


async def shot(page, name: str) -> None:
    """Save a full-page screenshot as a test artifact."""
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def sign_in_staff(page, token: str) -> None:
    await page.goto("/login")
    await page.fill("input[name=token]", token)
    await page.click("form:has(input[name=token]) button[type=submit]")
    await page.wait_for_url("**/inbox")


async def test_employee_gets_a_web_order_task_without_reloading(
    api: httpx.AsyncClient, worker, new_page, engine: Engine
) -> None:
    desk = await create_employee(api, ["order_desk"], clearance=2)
    product = await create_product(api, on_hand=10, price="89.50", name="Mechanical keyboard")
    customer = await create_customer(api, name="Browser Buyer")
    page = await new_page()

    await page.goto("/")
    await page.wait_for_url("**/login**")
    await shot(page, "01-login")
    await sign_in_staff(page, desk["token"])
    await page.click("text=Clock in")
    await page.wait_for_selector("[data-testid=duty]:has-text('On duty')")

    order = await place_order(api, customer["id"], [(product["sku"], 2)], channel="web")
    number = order["number"]
    card = page.locator(f"[data-testid=task][data-order='{number}']")
    await card.wait_for()  # arrives by htmx polling, no reload
    await shot(page, "02-inbox")
    await card.locator("select[name=outcome]").select_option("approved")
    await card.locator("input[name=note]").fill("address checked")
    await card.locator("button:has-text('Complete')").click()
    await page.wait_for_selector("#notice:has-text('completed')")
    await card.wait_for(state="detached")

    await page.goto(f"/orders/{number}")
    # The timeline refreshes itself (htmx) while the order runs: no reload needed.
    await page.wait_for_selector("[data-step=collection][data-state=current]")
    assert await page.locator("[data-step=allocation]").get_attribute("data-state") == "done"
    assert "address checked" in await page.inner_text("[data-testid=timeline]")
    await shot(page, "03-order")
    await page.set_viewport_size({"width": 390, "height": 844})  # a phone
    await page.goto("/inbox?scope=all")
    await shot(page, "03b-inbox-phone")


async def test_customer_accepts_quote_and_staff_see_message_and_stuck_order(
    api: httpx.AsyncClient, worker, new_page, engine: Engine
) -> None:
    product = await create_product(api, on_hand=10, price="1199.00", name='Laptop 14"')
    buyer = await create_customer(api, name="Northwind Browser", group="wholesale")
    other = await create_customer(api, name="Other Customer")
    quote = (await place_order(api, buyer["id"], [(product["sku"], 2)]))["number"]
    foreign = (await place_order(api, other["id"], [(product["sku"], 1)]))["number"]
    late = (await place_order(api, other["id"], [(product["sku"], 1)], channel="phone"))["number"]
    open_customer_account(engine, buyer["id"], "northwind-pass")

    page = await new_page()
    await page.goto("/login")
    await page.click("summary:has-text('Customer center')")
    await page.fill("input[name=email]", buyer["email"])
    await page.fill("input[name=password]", "northwind-pass")
    await page.click("form:has(input[name=email]) button[type=submit]")
    await page.wait_for_url("**/customer")
    listing = await page.inner_text("[data-testid=customer-orders]")
    assert quote in listing and foreign not in listing
    await shot(page, "04-customer-center")

    await page.click(f"text={quote}")
    await page.click("button:has-text('Accept quote')")
    await page.wait_for_selector(".flash:has-text('quote is accepted')")
    await page.fill("textarea[name=body]", "Please deliver to the side entrance.")
    await page.click("button:has-text('Send message')")
    await page.wait_for_selector("[data-testid=messages]:has-text('side entrance')")
    await shot(page, "05-customer-order")
    denied = await page.goto(f"/customer/orders/{foreign}")
    assert denied is not None and denied.status == 404

    staff = await new_page()
    await sign_in_staff(staff, ADMIN_TOKEN)
    await staff.goto(f"/orders/{quote}")
    assert "side entrance" in await staff.inner_text("#support")
    await staff.wait_for_selector("[data-testid=order-status]")

    deadline = time.monotonic() + 30
    await staff.goto("/monitor")
    # The live part of the monitor refreshes itself: the late order shows up without a reload.
    await staff.wait_for_selector(f"[data-testid=stuck] a[href='/orders/{late}']")
    link = staff.locator("[data-testid=stuck] [data-testid=temporal-link]").first
    assert (await link.get_attribute("href")).endswith(f"/workflows/order-{late}")
    await shot(staff, "06-monitor")
    invoices: list = []
    while not invoices:
        assert time.monotonic() < deadline + 30, "the accepted quote was never invoiced"
        invoices = (await api.get(f"/api/invoices?order={quote}")).json()
        await staff.wait_for_timeout(300)
    await staff.goto(f"/customers/{buyer['id']}")
    assert "side entrance" in await staff.inner_text("main")
    await shot(staff, "10-customer-history")
    for path, name in (
        ("/reports", "07-reports"),
        ("/rules", "08-rules"),
        ("/inbox", "09-inbox-admin"),
        (f"/invoices/{invoices[0]['number']}", "11-invoice"),
    ):
        await staff.goto(path)
        await shot(staff, name)
