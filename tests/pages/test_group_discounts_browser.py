"""In a real browser: a buyer adds a discount on an item group on the supplier's page, sees it
listed, and a purchase order from the page's lines takes the discounted price."""

import uuid

import httpx

from tests.pages.test_browser import (  # noqa: F401 - fixtures
    browser,
    database_url,
    new_page,
    pytestmark,
    rules_dir,
    shot,
    sign_in_staff,
)
from tests.purchasing.test_purchase_orders import add_price, make_supplier
from tests.utils.api import create_employee, create_product


async def test_a_buyer_adds_a_group_discount_and_orders_at_it(
    api: httpx.AsyncClient,
    new_page,  # noqa: F811
) -> None:
    group = f"grp-{uuid.uuid4().hex[:6]}"
    sku = (await create_product(api, on_hand=0, item_group=group))["sku"]
    supplier = await make_supplier(api)
    code = supplier["code"]
    await add_price(api, code, sku=sku, unit_price="16.00")
    buyer = await create_employee(api, ["admin"], clearance=5)

    page = await new_page()
    await sign_in_staff(page, buyer["token"])
    await page.goto(f"/purchasing/suppliers/{code}")
    form = page.locator("[data-testid=group-discount-form]")
    await form.locator("input[name=item_group]").fill(group)
    await form.locator("input[name=discount_percent]").fill("25")
    await form.locator("button[type=submit]").click()
    row = page.locator(f"[data-testid=group-discount][data-group='{group}']")
    await row.wait_for()
    assert "25.00%" in await row.inner_text()
    await shot(page, "group-discount-01-supplier")

    await page.goto("/purchasing/orders/new")
    order = page.locator("[data-testid=purchase-order-form]")
    await order.locator("select[name=supplier]").select_option(code)
    await order.locator("textarea[name=lines]").fill(f"{sku} 3")
    await order.locator("button[type=submit]").click()
    await page.wait_for_url("**/purchasing/orders/PO-*")
    assert "12.0000" in await page.inner_text("body")  # 16.00 less 25 %
    await shot(page, "group-discount-02-purchase-order")
