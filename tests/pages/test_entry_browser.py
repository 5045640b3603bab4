"""In a real browser: a sales rep enters a quote with an option for a customer with a price
agreement, saves it as a quote; the customer accepts it in the customer center and the order
goes ahead."""

import re

import httpx
from sqlalchemy.engine import Engine

from tests.pages.test_browser import (  # noqa: F401 - fixtures
    browser,
    database_url,
    new_page,
    pytestmark,
    shot,
    sign_in_staff,
)
from tests.utils.api import (
    create_customer,
    create_employee,
    create_product,
    wait_for_open_task,
    wait_for_order,
)
from tests.utils.pages import open_customer_account


async def test_a_rep_enters_a_quote_and_the_customer_accepts_it(
    api: httpx.AsyncClient,
    worker,
    new_page,  # noqa: F811
    engine: Engine,
) -> None:
    bag = await create_product(api, on_hand=30, price="80.00", name="Laptop sleeve")
    laptop = await create_product(
        api, on_hand=12, price="1200.00", name="Ultrabook 13", options=[bag["sku"]]
    )
    customer = await create_customer(api, name="Quote Browser Ltd")
    deal = await api.post(
        "/api/price-agreements",
        json={
            "name": "Browser key account",
            "sku": laptop["sku"],
            "customer_id": customer["id"],
            "discount_percent": "15",
        },
    )
    assert deal.status_code == 201, deal.text
    rep = await create_employee(api, ["sales"], clearance=3)

    page = await new_page()
    await sign_in_staff(page, rep["token"])
    await page.click("nav a[href='/orders']")
    await page.click("a:has-text('New order')")
    await page.fill("input[name=customer_q]", "Quote Browser")
    await page.click("button:has-text('Find customer')")
    await page.click(f"[data-customer='{customer['id']}'] a:has-text('Enter an order')")
    await page.wait_for_url(f"**/orders/new?customer_id={customer['id']}")

    await page.fill("input[name=find]", "Ultrabook")
    await page.click("button[value=find]")
    await page.click(f"[data-testid=found] tr[data-sku='{laptop['sku']}'] button:has-text('Add')")
    line = page.locator(f"[data-testid=line][data-sku='{laptop['sku']}']")
    await line.locator("[data-testid=price-rule]:has-text('Browser key account')").wait_for()
    await line.locator("input[name=qty-0]").fill("2")
    await line.locator(f"input[name=options-0][value='{bag['sku']}']").check()
    await page.fill("input[name=customer_po]", "PO-BROWSER-Q")
    await page.click("[data-testid=preview]")
    await page.locator("[data-testid=entry-total]:has-text('2,200.00 USD')").wait_for()
    await line.locator("[data-testid=unit-price]:has-text('1,020.00')").wait_for()
    assert "12 available" in await line.locator("[data-testid=availability]").inner_text()
    await shot(page, "entry-01-preview")
    await page.click("[data-testid=save-quote]")
    await page.wait_for_url(re.compile(r".*/orders/[^/]+$"))
    number = page.url.rsplit("/", 1)[1]
    await page.locator("[data-testid=order-status]:has-text('quote')").wait_for()
    await page.locator("[data-testid=quote-pdf]").wait_for()
    await shot(page, "entry-02-quote")
    quote = await wait_for_open_task(api, number, "quote")
    assert quote["status"] == "open"

    open_customer_account(engine, customer["id"], "quote-browser-pass")
    buyer = await new_page()
    await buyer.goto("/login")
    await buyer.click("summary:has-text('Customer center')")
    login = buyer.locator("[data-testid=customer-login]")
    await login.locator("input[name=email]").fill(customer["email"])
    await login.locator("input[name=password]").fill("quote-browser-pass")
    await login.locator("button[type=submit]").click()
    await buyer.wait_for_url("**/customer")
    await buyer.locator(f"[data-testid=customer-orders] >> text={number}").first.click()
    await buyer.wait_for_url(f"**/customer/orders/{number}")
    await buyer.click("button:has-text('Accept quote')")
    await buyer.wait_for_selector(".flash:has-text('quote is accepted')")
    await shot(buyer, "entry-03-accepted")

    order = await wait_for_order(api, number, lambda o: o["status"] not in ("quote", "cancelled"))
    assert order["explicit_quote"] is True and order["customer_po"] == "PO-BROWSER-Q"
    lines = {(ln["sku"], ln["qty"], ln["unit_price"]) for ln in order["lines"]}
    assert lines == {(laptop["sku"], 2, "1020.00"), (bag["sku"], 2, "80.00")}
    assert any(ln["parent_line_id"] for ln in order["lines"])  # the option under its laptop
