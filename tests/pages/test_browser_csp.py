"""The pages under their Content-Security-Policy in a real browser: nothing is blocked, and what
used inline handlers (auto-submitting filters) or htmx and Chart.js still works."""

import asyncio
import time

import httpx

from tests.conftest import ADMIN_TOKEN
from tests.pages.test_browser import (  # noqa: F401 - fixtures
    browser,
    database_url,
    new_page,
    pytestmark,
    sign_in_staff,
)
from tests.utils.api import create_customer, create_product, place_order

# Runs in the page before its own scripts (added by the browser, so the policy does not apply).
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.lineNumber}`);
});
"""


async def _no_violations(page) -> None:
    await page.wait_for_timeout(300)  # let deferred scripts and htmx requests run
    violations = await page.evaluate("window.__violations")
    assert violations == [], (page.url, violations)


async def test_pages_run_under_their_csp(api: httpx.AsyncClient, worker, new_page) -> None:  # noqa: F811
    product = await create_product(api, on_hand=10, price="25.00", name="CSP widget")
    customer = await create_customer(api, name="CSP Buyer")
    order = await place_order(api, customer["id"], [(product["sku"], 1)])
    deadline = time.monotonic() + 60
    invoices: list = []
    while not invoices:
        assert time.monotonic() < deadline, "the order was never invoiced"
        invoices = (await api.get(f"/api/invoices?order={order['number']}")).json()
        await asyncio.sleep(0.2)

    page = await new_page()
    await page.add_init_script(WATCH_VIOLATIONS)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    await sign_in_staff(page, ADMIN_TOKEN)
    await _no_violations(page)

    # A filter that submitted itself with an inline onchange now does so from conveyor.js.
    await page.goto("/monitor")
    await page.click("label:has-text('30d')")
    await page.wait_for_url("**/monitor?*days=30*")
    await _no_violations(page)
    # Chart.js draws the reports' charts (conveyor.js marks each canvas it drew).
    await page.goto("/reports")
    await page.wait_for_selector("canvas[data-chart][data-drawn='1']")
    await _no_violations(page)
    for path in (
        "/inbox?scope=all",
        f"/orders/{order['number']}",
        f"/invoices/{invoices[0]['number']}",
        "/rules",
    ):
        response = await page.goto(path)
        assert response is not None and response.status == 200, path
        assert "frame-ancestors 'none'" in (await response.all_headers())["content-security-policy"]
        await _no_violations(page)
    assert not [m for m in console if "Content Security Policy" in m], console


async def test_api_docs_render_offline(live_server: str, new_page) -> None:  # noqa: F811
    """Swagger UI and ReDoc come from /static: with every other origin cut off they still draw."""
    page = await new_page()
    await page.add_init_script(WATCH_VIOLATIONS)
    elsewhere: list[str] = []

    async def only_this_server(route) -> None:
        if route.request.url.startswith(live_server):
            await route.continue_()
        else:
            elsewhere.append(route.request.url)
            await route.abort()

    await page.route("**/*", only_this_server)
    # With some 300 operations Swagger UI draws only the tags in view: a deep link scrolls down.
    await page.goto("/docs#/orders")
    await page.wait_for_selector(".swagger-ui .info .title:has-text('Conveyor')")
    await page.wait_for_selector(".opblock-summary-path:has-text('/api/orders')")
    await _no_violations(page)
    await page.goto("/redoc")
    await page.wait_for_selector("h1:has-text('Conveyor')")
    await page.wait_for_timeout(300)
    # ReDoc's "API docs by Redocly" footer names its logo on cdn.redoc.ly: the policy blocks that
    # image before any request (nothing else is blocked, nothing leaves this server).
    violations = await page.evaluate("window.__violations")
    assert violations in ([], ["img-src https://cdn.redoc.ly/redoc/logo-mini.svg 0"]), violations
    assert elsewhere == []
