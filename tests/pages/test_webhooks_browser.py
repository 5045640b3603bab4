"""In a real browser: an admin adds an outbound webhook on Settings > Webhooks, copies its
secret, sees an order's event delivered in the log, replays it, and deactivates the webhook
after confirming."""

import asyncio

import httpx

from tests.conftest import ADMIN_TOKEN
from tests.outbound.conftest import Subscriber, free_port
from tests.pages.test_browser import (  # noqa: F401 - fixtures
    browser,
    database_url,
    new_page,
    pytestmark,
    rules_dir,
    shot,
    sign_in_staff,
)
from tests.utils.api import create_customer, create_product, place_order


async def test_an_admin_adds_a_webhook_watches_it_deliver_and_deactivates_it(
    api: httpx.AsyncClient,
    worker,
    new_page,  # noqa: F811
) -> None:
    subscriber = Subscriber(free_port())
    subscriber.start()
    try:
        page = await new_page()
        await sign_in_staff(page, ADMIN_TOKEN)
        await page.goto("/settings")
        await page.click("[data-testid=settings-links] a[href='/settings/webhooks']")
        await page.wait_for_url("**/settings/webhooks")
        await page.click("a:has-text('New webhook')")
        form = page.locator("[data-testid=webhook-form]")
        await form.locator("input[name=url]").fill("ftp://nowhere.example/in")
        await form.locator("input[name='event_order.created']").check()
        await form.locator("button:has-text('Add webhook')").click()
        await page.locator("[data-field=url] .field-error").wait_for()
        await form.locator("input[name=url]").fill(subscriber.url())
        await form.locator("textarea[name=description]").fill("Warehouse ERP")
        await shot(page, "webhooks-01-new")
        await form.locator("button:has-text('Add webhook')").click()
        secret = await page.locator("[data-testid=webhook-secret]").inner_text()
        assert secret.startswith("whsec_")
        await page.locator("[data-testid=verify-example]").wait_for()
        await shot(page, "webhooks-02-secret")

        product = await create_product(api, on_hand=5)
        customer = await create_customer(api)
        order = await place_order(api, customer["id"], [(product["sku"], 1)])
        for _ in range(100):
            if subscriber.requests():
                break
            await asyncio.sleep(0.1)
        assert subscriber.requests()[0].event["data"]["number"] == order["number"]
        await page.click("a:has-text('All webhooks')")
        await page.click(f"[data-testid=webhook] a:has-text('{subscriber.url()}')")
        delivered = page.locator("[data-testid=delivery][data-status=delivered]")
        for _ in range(50):
            if await delivered.count():
                break
            await asyncio.sleep(0.2)
            await page.reload()
        await delivered.first.wait_for()
        assert secret not in await page.content()  # shown once only
        await shot(page, "webhooks-03-log")
        await delivered.first.locator("button:has-text('Replay')").click()
        await page.locator(".flash:has-text('sent again')").wait_for()
        for _ in range(100):
            if len(subscriber.requests()) >= 2:
                break
            await asyncio.sleep(0.1)
        assert [r.event["id"] for r in subscriber.requests()[:2]] == [
            subscriber.requests()[0].event["id"]
        ] * 2

        await page.click("[data-testid=deactivate]")
        await page.locator("[data-testid=confirm]").wait_for()
        await page.fill("textarea[name=reason]", "ERP retired")
        await shot(page, "webhooks-04-confirm")
        await page.click("button:has-text('Deactivate')")
        await page.locator(".flash:has-text('deactivated')").wait_for()
        await page.locator("h1 [data-testid=inactive]").wait_for()
        await page.set_viewport_size({"width": 375, "height": 800})
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, width
        await shot(page, "webhooks-05-phone")
    finally:
        subscriber.stop()
