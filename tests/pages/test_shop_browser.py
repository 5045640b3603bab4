"""In a real browser: a customer registers through a set-password link, orders from the
catalogue and finds the order in the customer center."""

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from tests.conftest import ADMIN_TOKEN
from tests.pages.test_browser import (  # noqa: F401 - fixtures
    browser,
    database_url,
    new_page,
    pytestmark,
    shot,
)
from tests.utils.api import create_customer, create_product
from tests.utils.pages import send_set_password_link, staff_client

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def rules_dir() -> Path:
    """The rules Conveyor ships with."""
    return ROOT / "routing_rules" / "rules"


async def test_a_customer_registers_through_a_link_orders_and_sees_the_order(
    api: httpx.AsyncClient,
    worker,
    new_page,  # noqa: F811
    engine: Engine,
    mailbox,
) -> None:
    product = await create_product(api, on_hand=40, price="19.90", name="Browser mug")
    customer = await create_customer(api, name="Link Buyer")
    staff = await staff_client(api, ADMIN_TOKEN)
    link = await send_set_password_link(staff, mailbox, customer)
    await staff.aclose()

    page = await new_page()
    await page.goto(httpx.URL(link).raw_path.decode())
    await page.fill("input[name=password]", "my-own-pass")
    await page.fill("input[name=confirm]", "my-own-pass")
    await page.click("button:has-text('Set my password')")
    await page.wait_for_url("**/login**")
    await page.click("summary:has-text('Customer center')")
    login = page.locator("[data-testid=customer-login]")
    await login.locator("input[name=email]").fill(customer["email"])
    await login.locator("input[name=password]").fill("my-own-pass")
    await login.locator("button[type=submit]").click()
    await page.wait_for_url("**/customer")

    await page.click("nav a[href='/shop']")
    await page.fill("input[name=q]", "Browser mug")
    await page.click("button:has-text('Search')")
    row = page.locator(f"[data-testid=catalogue] tr[data-sku='{product['sku']}']")
    await row.locator("[data-testid=price]:has-text('19.90 USD')").wait_for()
    await shot(page, "shop-01-catalogue")
    await row.locator("input[name=qty]").fill("2")
    await row.locator("button:has-text('Add to cart')").click()
    await page.wait_for_url("**/shop/cart")
    await page.locator("[data-testid=cart-total]:has-text('39.80 USD')").wait_for()
    await page.click("[data-testid=to-checkout]")
    form = page.locator("[data-testid=address-form]")
    await form.locator("input[name=name]").fill("Link Buyer")
    await form.locator("input[name=line1]").fill("5 Harbour Lane")
    await form.locator("input[name=city]").fill("Portsmouth")
    await form.locator("button:has-text('Save address')").click()
    await page.wait_for_url("**/shop/checkout")
    await page.fill("input[name=customer_po]", "PO-BROWSER-1")
    await shot(page, "shop-02-checkout")
    await page.click("[data-testid=place-order]")
    await page.wait_for_url(re.compile(r".*/shop/orders/.+"))
    number = await page.locator("[data-testid=order-number]").inner_text()
    await page.locator("[data-testid=confirmation]:has-text('PO-BROWSER-1')").wait_for()
    await shot(page, "shop-03-confirmation")

    await page.click("nav a[href='/customer']")
    await page.locator(f"[data-testid=customer-orders] >> text={number}").click()
    await page.wait_for_url(f"**/customer/orders/{number}")
    order = (await api.get(f"/api/orders/{number}")).json()
    assert order["channel"] == "customer_center" and order["customer_id"] == customer["id"]
