"""The counter page over HTTP, on SQLite and PostgreSQL: scan, refusal without a drawer, open
the drawer, take cash, the receipt, close the drawer with its difference."""

import re
from pathlib import Path

import httpx
import pytest

from conveyor.core.settings import Settings
from tests.utils.api import create_employee, create_product, wait_for_order
from tests.utils.pages import staff_client


@pytest.fixture
def rules_dir() -> Path:
    """The shipped rules (their counter-sales rule)."""
    return Settings().rules_dir


async def test_the_counter_page_sells_for_cash_once_the_drawer_is_open(
    api: httpx.AsyncClient, worker
) -> None:
    tea = await create_product(api, on_hand=9, price="4.75", name="Green tea")
    clerk = await create_employee(api, ["sales"])
    page = await staff_client(api, clerk["token"])
    try:
        scanned = await page.post("/pos", {"scan": tea["sku"], "action": "add", "key": "k-1"})
        assert scanned.status_code == 200, scanned.text
        assert f'data-sku="{tea["sku"]}"' in scanned.text and "Green tea" in scanned.text
        assert "4.75 USD" in scanned.text  # the total, at the walk-in customer's price

        sale = {"sku-0": tea["sku"], "qty-0": "2", "tender": "cash", "tendered": "10.00"}
        refused = await page.post("/pos", {**sale, "action": "pay", "key": "k-1"})
        assert refused.status_code == 409
        assert "no open cash drawer" in refused.text

        opened = await page.post("/pos/drawer/open", {"opening_float": "20.00"})
        assert opened.status_code == 303
        drawer = await page.get("/pos")
        assert re.search(r'data-testid="drawer-expected">20\.00 USD<', drawer.text)

        paid = await page.post("/pos", {**sale, "action": "pay", "key": "k-1"})
        assert paid.status_code == 303, paid.text
        url = paid.headers["location"]
        number = url.rsplit("/", 1)[1]
        shown = await page.get(url)
        assert "0.50 USD" in shown.text  # the change
        again = await page.post("/pos", {**sale, "action": "pay", "key": "k-1"})
        assert again.headers["location"] == url  # a double submit is one sale
        await wait_for_order(api, number, lambda o: o["status"] == "completed")
        receipt = await page.get(f"{url}/receipt.pdf")
        assert receipt.status_code == 200 and receipt.content.startswith(b"%PDF-")

        closed = await page.post("/pos/drawer/close", {"counted": "30.00"})
        assert closed.status_code == 303
        after = await page.get("/pos")
        assert "expected 29.50, counted 30.00, difference 0.50 USD" in after.text
        assert "No cash drawer open" in after.text
        assert (await page.get("/pos/drawers")).status_code == 403  # sales: not everybody's
    finally:
        await page.aclose()
    supervisor = await create_employee(api, ["supervisor"])
    watcher = await staff_client(api, supervisor["token"])
    try:
        listed = await watcher.get("/pos/drawers")
        assert listed.status_code == 200 and clerk["email"] in listed.text
        assert re.search(r'data-testid="difference">0\.50<', listed.text)
        assert (await watcher.get("/pos")).status_code == 403
    finally:
        await watcher.aclose()
