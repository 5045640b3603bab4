"""In a real browser: an accountant opens Exports, reviews a new SQL Accounting export, confirms
it, downloads the run's zip and gets the same bytes again; a second review finds nothing new."""

import io
import zipfile
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine

from tests.pages.test_browser import (  # noqa: F401 - fixtures
    browser,
    database_url,
    new_page,
    pytestmark,
    rules_dir,
    shot,
    sign_in_staff,
)
from tests.utils.accounting import books
from tests.utils.api import create_employee


async def test_an_accountant_exports_once_and_downloads_the_same_file_again(
    api: httpx.AsyncClient,
    new_page,  # noqa: F811
    engine: Engine,
    tmp_path: Path,
) -> None:
    invoice_number, _ = books(engine)
    accountant = await create_employee(api, ["accountant"])
    page = await new_page()
    await sign_in_staff(page, accountant["token"])
    await page.click("nav a[href='/accounting/exports']")
    await page.wait_for_url("**/accounting/exports")
    form = page.locator("[data-testid=new-export]")
    await form.locator("select[name=package]").select_option("sql_accounting")
    await form.locator("button[type=submit]").click()
    await page.wait_for_url("**/accounting/exports/new?**")
    # 1 customer, 1 invoice, 1 credit note and 3 payments, none exported before.
    button = page.locator("[data-testid=confirm-export]")
    assert (await button.inner_text()).strip() == "Export 6 documents"
    await shot(page, "exports-01-confirm")
    await button.click()
    await page.wait_for_url("**/accounting/exports?package=sql_accounting")
    row = page.locator("[data-testid=export-run][data-run='1']")
    await row.wait_for()
    await shot(page, "exports-02-runs")

    link = row.locator("[data-testid=download]")
    async with page.expect_download() as first_info:
        await link.click()
    first = tmp_path / "first.zip"
    await (await first_info.value).save_as(first)
    async with page.expect_download() as second_info:
        await link.click()
    second = tmp_path / "second.zip"
    await (await second_info.value).save_as(second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(io.BytesIO(first.read_bytes())) as archive:
        assert invoice_number in archive.read("AR_IV.txt").decode()

    await page.goto("/accounting/exports")
    form = page.locator("[data-testid=new-export]")
    await form.locator("select[name=package]").select_option("sql_accounting")
    await form.locator("button[type=submit]").click()
    await page.locator("[data-testid=nothing-new]").wait_for()
