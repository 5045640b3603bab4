"""In a real browser: a sales rep records an opportunity on the page and moves it through the
stages with the stage form until it is won; the history and the pipeline show each move."""

import httpx

from tests.pages.test_browser import (  # noqa: F401 - fixtures
    browser,
    database_url,
    new_page,
    pytestmark,
    shot,
    sign_in_staff,
)
from tests.utils.api import create_customer, create_employee


async def test_a_rep_moves_an_opportunity_through_the_stages(
    api: httpx.AsyncClient,
    new_page,  # noqa: F811
) -> None:
    rep = await create_employee(api, ["sales"], clearance=3)
    customer = await create_customer(api, name="Stage Browser GmbH")
    page = await new_page()
    await sign_in_staff(page, rep["token"])
    await page.click("nav a[href='/opportunities']")
    await page.wait_for_url("**/opportunities")
    await page.click("[data-testid=new-opportunity]")
    form = page.locator("[data-testid=opportunity-form]")
    await form.locator("input[name=customer_id]").fill(str(customer["id"]))
    await form.locator("input[name=title]").fill("Warehouse robots")
    await form.locator("input[name=value]").fill("12,000.00")
    await shot(page, "opportunity-01-new")
    await form.locator("button[type=submit]").click()
    await page.wait_for_url("**/opportunities/OPP-*")
    number = page.url.rsplit("/", 1)[1]
    stage = page.locator("[data-testid=stage]")
    await page.locator(".flash:has-text('recorded')").wait_for()
    assert (await stage.inner_text()) == "prospecting"

    for target, weighted in (
        ("qualification", "3,000.00 USD"),
        ("proposal", "6,000.00 USD"),
        ("negotiation", "9,000.00 USD"),
    ):
        moving = page.locator("[data-testid=stage-form]")
        await moving.locator("select[name=stage]").select_option(target)
        await moving.locator("input[name=note]").fill(f"on to {target}")
        await moving.locator("button:has-text('Move')").click()
        await page.locator(f".flash:has-text('moved to {target}')").wait_for()
        assert (await stage.inner_text()) == target
        assert (await page.locator("[data-testid=weighted]").inner_text()) == weighted
        await page.locator(f"[data-testid=stage-change][data-to={target}]").wait_for()
    await shot(page, "opportunity-02-negotiation")

    moving = page.locator("[data-testid=stage-form]")
    await moving.locator("select[name=stage]").select_option("won")
    await moving.locator("button:has-text('Move')").click()
    await page.locator(".flash:has-text('moved to won')").wait_for()
    assert (await stage.inner_text()) == "won"
    assert await page.locator("[data-testid=stage-form]").count() == 0  # closed: no more moves
    assert await page.locator("[data-testid=stage-change]").count() == 5
    await shot(page, "opportunity-03-won")

    await page.click("nav a[href='/opportunities']")
    await page.wait_for_url("**/opportunities")
    won = page.locator("[data-testid=stage-row][data-stage=won]")
    assert (await won.locator("[data-testid=stage-count]").inner_text()) == "1"
    assert (await won.locator("[data-testid=stage-weighted]").inner_text()) == "12,000.00 USD"
    await page.locator(f"[data-testid=row][data-key='{number}']").wait_for()
    await shot(page, "opportunity-04-pipeline")
