"""In a real browser, with the rules Conveyor ships: a clerk signs in, opens the cash drawer,
scans two SKUs (one found by name), takes cash with change; the order completes by itself and
the receipt PDF downloads with the order number on it. Then one item comes back at the counter
and the cash goes out of the drawer."""

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from conveyor.core.settings import Settings
from tests.pages.test_browser import (  # noqa: F401 - fixtures
    browser,
    database_url,
    new_page,
    pytestmark,
    shot,
    sign_in_staff,
)
from tests.utils.api import auth, create_employee, create_product, wait_for_order
from tests.utils.pdf import read_pdf


@pytest.fixture
def rules_dir() -> Path:
    """The shipped rules: their counter-sales rule runs a pos order straight through."""
    return Settings().rules_dir


async def test_a_clerk_sells_at_the_counter_for_cash_and_prints_the_receipt(
    api: httpx.AsyncClient,
    worker,
    new_page,  # noqa: F811
    engine: Engine,
    tmp_path: Path,
) -> None:
    scarf = await create_product(api, on_hand=6, price="24.00", name="Wool scarf")
    gloves = await create_product(api, on_hand=6, price="15.50", name="Leather gloves")
    clerk = await create_employee(api, ["order_desk"])

    page = await new_page()
    await sign_in_staff(page, clerk["token"])
    await page.click("nav a[href='/pos']")
    await page.wait_for_url("**/pos")
    await page.locator("[data-testid=drawer-state]:has-text('No cash drawer open')").wait_for()
    await page.fill("[data-testid=open-drawer] input[name=opening_float]", "80.00")
    await page.click("[data-testid=open-drawer] button")
    await page.locator("[data-testid=drawer-expected]:has-text('80.00')").wait_for()

    await page.fill("[data-testid=scan]", scarf["sku"])
    await page.press("[data-testid=scan]", "Enter")  # a scanner types the SKU and Enter
    await page.locator(f"[data-testid=line][data-sku='{scarf['sku']}']").wait_for()
    await page.fill("[data-testid=scan]", scarf["sku"])
    await page.press("[data-testid=scan]", "Enter")  # the same SKU again: one more
    line = page.locator(f"[data-testid=line][data-sku='{scarf['sku']}']")
    assert await line.locator("input[name=qty-0]").input_value() == "2"
    await page.fill("[data-testid=scan]", "Leather glo")
    await page.click("[data-testid=add]")
    await page.click(f"[data-testid=found] tr[data-sku='{gloves['sku']}'] button")
    await page.locator(f"[data-testid=line][data-sku='{gloves['sku']}']").wait_for()
    await page.locator("[data-testid=sale-total]:has-text('63.50')").wait_for()
    await shot(page, "pos-01-sale")

    await page.check("[data-testid=tender-cash]")
    await page.fill("[data-testid=tendered]", "70.00")
    await page.click("[data-testid=take-payment]")
    await page.wait_for_url(re.compile(r".*/pos/sales/[^/]+$"))
    number = (await page.locator("[data-testid=sale-number]").inner_text()).strip()
    await page.locator("[data-testid=sale-change]:has-text('6.50')").wait_for()

    order = await wait_for_order(api, number, lambda o: o["status"] == "completed")
    assert order["channel"] == "pos" and order["totals"]["paid"] == "63.50"
    await page.reload()
    await page.locator("[data-testid=order-status]:has-text('completed')").wait_for()
    await shot(page, "pos-02-paid")

    async with page.expect_download() as download_info:
        await page.click("[data-testid=receipt]")
    download = await download_info.value
    saved = tmp_path / "receipt.pdf"
    await download.save_as(saved)
    text = read_pdf(saved.read_bytes(), tmp_path, "receipt")
    assert number in text and "Wool scarf" in text and "63.50" in text and "6.50" in text

    await page.select_option("[data-testid=counter-return] select[name=sku]", gloves["sku"])
    await page.click("[data-testid=counter-return] button")
    await page.locator("[role=status]:has-text('paid out 15.50')").wait_for()
    drawer = (await api.get("/api/pos/drawer", headers=auth(clerk))).json()
    assert drawer["expected"] == "128.00"  # 80.00 float + 63.50 - 15.50
    await page.click("[data-testid=next-sale]")
    await page.locator("[data-testid=drawer-expected]:has-text('128.00')").wait_for()
    await shot(page, "pos-03-drawer")
