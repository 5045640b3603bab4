"""In a real browser, the business pages: a manager edits a price agreement and a credit limit
and finds both in the audit history; the warehouse picks and packs from its task cards with the
pick list and packing slip; accounts see the invoice's due date and status; a CSV import with two
bad lines shows both and writes nothing."""

import asyncio
import json
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from conveyor.core.db import session_scope
from conveyor.customer import service as customer_service
from tests.conftest import ADMIN_TOKEN, RULES
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
    place_order,
    wait_for_open_task,
)
from tests.utils.pdf import read_pdf


@pytest.fixture
def rules_dir() -> Path:
    """Orders from a sales rep stop at the warehouse's picking and packing tasks (pool)."""
    return RULES / "documents"


async def _audit_change(page, action: str, field: str) -> tuple[str, str]:
    """The before and after value of `field` in the newest `action` entry of the history."""
    row = page.locator(f"[data-testid=audit-history] tr[data-action='{action}']").first
    await row.wait_for()
    before, after = (await row.locator("td").all_inner_texts())[4:6]  # the last two columns
    return json.loads(before)[field], json.loads(after)[field]


async def test_a_manager_edits_a_price_and_a_credit_limit_and_finds_both_in_the_history(
    api: httpx.AsyncClient,
    new_page,  # noqa: F811
) -> None:
    product = await create_product(api, price="50.00", name="Browser bolt")
    customer = await create_customer(api, name="Audit Buyer", credit_limit="1000.00")
    body = {"name": "Audit deal", "sku": product["sku"], "customer_id": customer["id"]}
    made = await api.post("/api/price-agreements", json=body | {"unit_price": "45.00"})
    assert made.status_code == 201, made.text
    agreement = made.json()
    manager = await create_employee(api, ["admin"], clearance=5)
    page = await new_page()
    await sign_in_staff(page, manager["token"])

    # Settings > Prices: find the agreement and change its price.
    await page.click("nav a[href='/settings']")
    await page.click("a[href='/settings/prices']")
    await page.fill("form.filters input[name=sku]", product["sku"])
    await page.click("form.filters button:has-text('Filter')")
    await page.click(f"[data-testid=agreement][data-id='{agreement['id']}'] a >> nth=0")
    await page.wait_for_url(f"**/settings/prices/{agreement['id']}")
    form = page.locator("[data-testid=agreement-form]")
    await form.locator("input[name=unit_price]").fill("39.90")
    await form.locator("button:has-text('Save')").click()
    await page.locator("text=Price agreement saved.").wait_for()
    before, after = await _audit_change(page, "price_agreement.update", "unit_price")
    assert Decimal(before) == Decimal("45.00") and Decimal(after) == Decimal("39.90")
    await shot(page, "business-01-agreement-history")

    # The customer's credit limit, on its edit page; the change shows on its record page.
    await page.goto(f"/customers/{customer['id']}/edit")
    form = page.locator("[data-testid=customer-form]")
    await form.locator("input[name=credit_limit]").fill("2500.00")
    await form.locator("button:has-text('Save')").click()
    await page.locator("text=Customer saved.").wait_for()
    await page.goto(f"/customers/{customer['id']}")
    before, after = await _audit_change(page, "customer.update", "credit_limit")
    assert Decimal(before) == Decimal("1000.00") and Decimal(after) == Decimal("2500.00")
    assert manager["email"] in await page.inner_text("[data-testid=audit-history]")
    await shot(page, "business-02-customer-history")

    # An order for that customer gets the edited agreement's price.
    order = await place_order(api, customer["id"], [(product["sku"], 2)])
    line = order["lines"][0]
    assert Decimal(line["unit_price"]) == Decimal("39.90"), line
    assert "Audit deal" in line["price_rule"]


async def test_the_warehouse_picks_and_packs_from_its_cards_and_accounts_see_the_invoice(
    api: httpx.AsyncClient,
    worker,
    new_page,  # noqa: F811
    tmp_path: Path,
) -> None:
    product = await create_product(api, on_hand=12, price="25.00", name="Crate", location="B-07")
    customer = await create_customer(api, name="Dock Buyer", payment_terms_days=14)
    order = await place_order(api, customer["id"], [(product["sku"], 3)], channel="sales_rep")
    number = order["number"]
    await wait_for_open_task(api, number, "picking")

    clerk = await create_employee(api, ["warehouse"])
    page = await new_page()
    await sign_in_staff(page, clerk["token"])
    await page.goto("/inbox?scope=pool")
    card = page.locator(f"[data-testid=task][data-order='{number}']")
    context = card.locator("[data-testid=task-context][data-kind=pick]")
    line = context.locator(f"[data-testid=pick-line][data-sku='{product['sku']}']")
    await line.wait_for()
    cells = await line.locator("td").all_inner_texts()
    assert "B-07" in cells[0] and cells[-2] == "3", cells
    await shot(page, "business-03-pick-card")

    # The pick list PDF: the link downloads it; the same URL answers with a PDF.
    link = context.locator("[data-testid=document-pdf]")
    href = await link.get_attribute("href")
    assert href == f"/orders/{number}/pick-list.pdf"
    async with page.expect_download() as download_info:
        await link.click()
    download = await download_info.value
    saved = tmp_path / "downloaded.pdf"
    await download.save_as(saved)
    answer = await page.request.get(href)
    assert answer.ok and answer.headers["content-type"] == "application/pdf"
    assert (await answer.body()).startswith(b"%PDF-")  # the same document, stamped anew
    text = read_pdf(saved.read_bytes(), tmp_path, "pick")
    assert product["sku"] in text and "B-07" in text and "Dock Buyer" in text

    await card.locator("button:has-text('Complete')").click()
    await page.wait_for_selector("#notice:has-text('completed')")
    await wait_for_open_task(api, number, "packing")
    await page.goto("/inbox?scope=pool")
    pack = card.locator("[data-testid=task-context][data-kind=pack]")
    await pack.locator(f"[data-testid=pick-line][data-sku='{product['sku']}']").wait_for()
    slip = await pack.locator("[data-testid=document-pdf]").get_attribute("href")
    assert slip and slip.startswith(f"/orders/{number}/packing-slip.pdf")
    slip_pdf = await page.request.get(slip)
    assert slip_pdf.headers["content-type"] == "application/pdf"
    assert "Dock Buyer" in read_pdf(await slip_pdf.body(), tmp_path, "slip")
    await shot(page, "business-04-pack-card")
    await card.locator("button:has-text('Complete')").click()
    await page.wait_for_selector("#notice:has-text('completed')")

    invoices: list[dict] = []
    for _ in range(300):
        invoices = (await api.get("/api/invoices", params={"order": number})).json()
        if invoices:
            break
        await asyncio.sleep(0.2)
    assert invoices, f"no invoice for {number}"
    invoice = invoices[0]
    due = (datetime.fromisoformat(invoice["issued_at"]) + timedelta(days=14)).date()

    accountant = await create_employee(api, ["accountant"])
    books = await new_page()
    await sign_in_staff(books, accountant["token"])
    await books.goto(f"/invoices/{invoice['number']}")
    standing = books.locator("[data-testid=invoice-standing]")
    await standing.wait_for()
    assert f"Due {due.isoformat()}" in await standing.inner_text()
    assert "14 days net" in await standing.inner_text()
    assert (await books.inner_text("[data-testid=invoice-status]")).strip() == "open"
    await shot(books, "business-05-invoice")


async def test_a_csv_import_with_two_bad_lines_shows_both_and_writes_nothing(
    api: httpx.AsyncClient,
    new_page,  # noqa: F811
    engine: Engine,
    tmp_path: Path,
) -> None:
    tag = uuid.uuid4().hex[:6]
    upload = tmp_path / "customers.csv"
    upload.write_text(
        "name,email,credit_limit\n"
        f"Good {tag},good-{tag}@example.com,100.00\n"
        f"Bad number {tag},bad-{tag}@example.com,12.3.4\n"
        f"Twice {tag},good-{tag}@example.com,5\n"
    )
    page = await new_page()
    await sign_in_staff(page, ADMIN_TOKEN)
    await page.goto("/stock")
    await page.click("a[href='/imports']")
    form = page.locator("[data-testid=import-form]")
    await form.locator("select[name=kind]").select_option("customers")
    await form.locator("input[name=file]").set_input_files(upload)
    await form.locator("button[value=import]").click()
    problems = page.locator("[data-testid=import-problems]")
    await problems.wait_for()
    assert "lines 3, 4" in await problems.inner_text() and "Nothing was written" in (
        await problems.inner_text()
    )
    lines = page.locator("[data-testid=problem]")
    assert [await row.get_attribute("data-line") for row in await lines.all()] == ["3", "4"]
    await shot(page, "business-06-import-problems")
    with session_scope(engine) as session:
        for who in ("good", "bad"):
            email = f"{who}-{tag}@example.com"
            assert customer_service.get_by_email(session=session, email=email) is None
