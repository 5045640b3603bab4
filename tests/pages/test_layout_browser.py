"""In a real browser, at phone and laptop width: no page is wider than the window (long words
wrap inside message bubbles, cards and tables; the monitor's Backordered table stays in its card),
order numbers, SKUs and amounts never break mid-token, and the report charts' labels lie flat."""

import httpx
from sqlalchemy.engine import Engine

from tests.conftest import ADMIN_TOKEN
from tests.pages.test_browser import (  # noqa: F401 - fixtures
    browser,
    database_url,
    new_page,
    pytestmark,
    rules_dir,
    shot,
    sign_in_staff,
)
from tests.utils.api import create_customer, create_product, place_order, wait_for_order
from tests.utils.pages import customer_client, open_customer_account

LONG_WORD = "Donaudampfschifffahrtsgesellschaftskapitänswitwenrentenversicherungsanstalt" * 2
WIDTHS = (375, 1280)

# Measured in the page: how far the document is wider than the window (0: not at all).
OVERFLOW = "document.scrollingElement.scrollWidth - window.innerWidth"
# How many line boxes each element of a selector takes (1: it did not wrap).
LINES = "els => els.map(el => el.getClientRects().length)"


async def test_pages_fit_phone_and_laptop_width_and_tokens_do_not_wrap(
    api: httpx.AsyncClient,
    worker,
    new_page,  # noqa: F811
    engine: Engine,
) -> None:
    in_stock = await create_product(
        api, on_hand=50, price="1234567.89", sku="DOCK-USB-C-2X4K", name=LONG_WORD
    )
    missing = await create_product(api, on_hand=0, sku="CABLE-USB-C-PD-240W", name="Cable")
    customer = await create_customer(api, name=f"{LONG_WORD} GmbH")
    numbers = []
    for _ in range(3):  # the monitor lists them under Backordered, with the long customer name
        order = await place_order(api, customer["id"], [(missing["sku"], 2)])
        numbers.append(order["number"])
    talked = (await place_order(api, customer["id"], [(in_stock["sku"], 3)]))["number"]
    for number in numbers:
        await wait_for_order(api, number, lambda o: o["status"] == "backordered")
    open_customer_account(engine, customer["id"], "layout-pass")
    shopper = await customer_client(api, customer["email"], "layout-pass")
    sent = await shopper.post(f"/customer/orders/{talked}/messages", {"body": LONG_WORD})
    assert sent.status_code == 303, sent.text
    await shopper.aclose()

    page = await new_page()
    await sign_in_staff(page, ADMIN_TOKEN)
    for width in WIDTHS:
        await page.set_viewport_size({"width": width, "height": 900})
        for path, name in (
            ("/orders", "orders"),
            (f"/orders/{talked}", "order-long-word"),
            ("/monitor", "monitor"),
            ("/inbox?scope=all", "inbox"),
        ):
            await page.goto(path)
            await page.wait_for_load_state("networkidle")
            await shot(page, f"layout-{name}-{width}")
            assert await page.evaluate(OVERFLOW) <= 0, f"{path} is wider than {width}px"

        await page.goto("/orders")
        numbers_shown = await page.eval_on_selector_all(
            "[data-testid=list] td:first-child a", LINES
        )
        amounts = await page.eval_on_selector_all("[data-testid=list] td.num", LINES)
        assert numbers_shown and set(numbers_shown) == {1}, f"an order number wraps at {width}px"
        heights = await page.eval_on_selector_all(
            "[data-testid=list] td:first-child a",
            "els => els.map(a => a.getBoundingClientRect().height"
            " <= parseFloat(getComputedStyle(a).lineHeight) * 1.2)",
        )
        assert set(heights) == {True}, f"an order number is taller than one line at {width}px"
        assert amounts and set(amounts) == {1}, f"an amount wraps at {width}px"

        await page.goto(f"/orders/{talked}")
        skus = await page.eval_on_selector_all("table.grid td code", LINES)
        assert skus and set(skus) == {1}, f"a SKU wraps at {width}px"
        bubble = await page.eval_on_selector(
            "[data-testid=messages] .msg",
            "el => el.getBoundingClientRect().right <= el.parentElement.getBoundingClientRect()"
            ".right + 1",
        )
        assert bubble, f"the long word runs out of its message bubble at {width}px"

        await page.goto("/monitor")
        backordered = page.locator("section.card:has(h2:has-text('Backordered'))")
        await backordered.locator(f"a[href='/orders/{numbers[0]}']").first.wait_for()
        # The table fits its card, or the card scrolls it; the card itself fits the window.
        inside = await backordered.evaluate(
            "card => card.getBoundingClientRect().right <= window.innerWidth"
            " && [...card.querySelectorAll('table')].every(t =>"
            " t.getBoundingClientRect().width <= card.clientWidth"
            " || ['auto', 'scroll'].includes(getComputedStyle(card).overflowX))"
        )
        assert inside, f"the Backordered table is wider than its card at {width}px"

    # The customer's own order page: the long word in their message and the item name wrap too.
    buyer = await new_page()
    await buyer.goto("/login")
    await buyer.click("summary:has-text('Customer center')")
    login = buyer.locator("[data-testid=customer-login]")
    await login.locator("input[name=email]").fill(customer["email"])
    await login.locator("input[name=password]").fill("layout-pass")
    await login.locator("button[type=submit]").click()
    await buyer.wait_for_url("**/customer")
    for width in WIDTHS:
        await buyer.set_viewport_size({"width": width, "height": 900})
        for path, name in (
            ("/customer", "customer-center"),
            (f"/customer/orders/{talked}", "customer-order"),
        ):
            await buyer.goto(path)
            await shot(buyer, f"layout-{name}-{width}")
            assert await buyer.evaluate(OVERFLOW) <= 0, f"{path} is wider than {width}px"


async def test_report_chart_labels_lie_flat_and_are_few(
    api: httpx.AsyncClient,
    new_page,  # noqa: F811
) -> None:
    page = await new_page()
    await sign_in_staff(page, ADMIN_TOKEN)
    for width in WIDTHS:
        await page.set_viewport_size({"width": width, "height": 900})
        await page.goto("/reports?days=90")
        await page.wait_for_function("window.Chart && document.querySelector('canvas[data-drawn]')")
        axes = await page.eval_on_selector_all(
            "canvas[data-drawn]",
            "cs => cs.map(c => { const x = window.Chart.getChart(c).scales.x;"
            " return [x.labelRotation, x.ticks.length]; })",
        )
        await shot(page, f"layout-reports-{width}")
        assert axes and all(rotation == 0 for rotation, _ in axes), axes
        assert all(ticks <= 10 for _, ticks in axes), axes
