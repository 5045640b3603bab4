"""The README's walkthroughs, followed as written on a fresh `conveyor dev` (issues 13 and 14).

One `conveyor dev` as `make run` starts it in a checkout (demo data, the admin token made in
`.data/admin-token`), on free ports. The API walkthrough: the blocks marked `<!-- walkthrough -->`
run in order in one bash from the folder holding `.data`, as a person pastes them into a shell;
only the address differs. The walkthrough for people: Chromium signs in with the logins the
banner prints and does each numbered step on the pages, by the labels the README names.
"""

import asyncio
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
import pytest_asyncio

from tests.cli.test_dev import DevGroup, kill
from tests.pages.test_browser import ARTIFACTS, CHROMIUM, WAIT_MS, browser  # noqa: F401
from tests.utils.processes import ROOT

playwright_api = pytest.importorskip("playwright.async_api")
expect = playwright_api.expect

README = ROOT / "README.md"
MARK = "<!-- walkthrough -->"
BLOCK = re.compile(re.escape(MARK) + r"\n```sh\n(.*?)^```$", re.S | re.M)
MAKE_RUN_ADDRESS = "http://127.0.0.1:8000"
RUN_SECONDS = 150
# The people the README's walkthrough for people signs in as: (e-mail, password) as printed.
STAFF = {
    "alice": ("alice@conveyor.example", "alice-demo"),
    "olivia": ("olivia@conveyor.example", "olivia-demo"),
    "walter": ("walter@conveyor.example", "walter-demo"),
    "ann": ("ann@conveyor.example", "ann-demo"),
}
CUSTOMERS = {
    "jane": ("jane.doe@example.com", "jane-demo-pass"),
    "northwind": ("orders@northwind.example", "northwind-demo"),
}


class MakeRun(NamedTuple):
    dev: DevGroup
    banner: str


@pytest.fixture(scope="module")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeRun]:
    """A fresh `conveyor dev` in a checkout of its own, started as `make run` starts it."""
    dev = DevGroup(tmp_path_factory.mktemp("checkout") / ".data")
    dev.env.pop("CONVEYOR_ADMIN_TOKEN")  # as `make run`: the token is made in .data/admin-token
    try:
        yield MakeRun(dev, dev.start())
        dev.interrupt()
    finally:
        kill(dev)


def walkthrough() -> list[str]:
    """The marked shell blocks of the README, in order."""
    text = README.read_text()
    blocks = BLOCK.findall(text)
    marks = re.findall(rf"^{re.escape(MARK)}$", text, re.M)
    assert len(blocks) == len(marks), f"every {MARK} line must be followed by a ```sh block"
    return blocks


def test_the_readme_marks_its_walkthrough() -> None:
    blocks = walkthrough()
    assert len(blocks) >= 2
    assert MAKE_RUN_ADDRESS in blocks[0]  # the address `make run` serves; the test uses its own


@pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("jq")),
    reason="the README walkthrough uses curl and jq (make test installs them)",
)
def test_the_api_walkthrough_works_as_written_on_a_fresh_make_run(make_run: MakeRun) -> None:
    dev = make_run.dev
    blocks = walkthrough()
    # One shell for all blocks: each goes on with what the ones before it defined. `-e`: a
    # failing command (an HTTP error, with the `api` helper) fails its block.
    script = ["set -euo pipefail"]
    for n, block in enumerate(blocks, 1):
        script += [f"echo '::block {n}'", block.replace(MAKE_RUN_ADDRESS, dev.base)]
    script.append('echo "::order $ORDER"')
    try:
        run = subprocess.run(
            ["bash", "-c", "\n".join(script)],
            cwd=dev.data_dir.parent,
            capture_output=True,
            text=True,
            timeout=RUN_SECONDS,
        )
        out, err, code = run.stdout, run.stderr, run.returncode
    except subprocess.TimeoutExpired as exc:
        out, err, code = _text(exc.stdout), _text(exc.stderr), None
    reached = re.findall(r"^::block (\d+)$", out, re.M)
    assert code == 0, (
        f"README walkthrough block {reached[-1] if reached else '?'} of {len(blocks)} "
        f"{'timed out' if code is None else f'exited {code}'}\n{out}\n{err}"
    )
    assert reached == [str(n) for n in range(1, len(blocks) + 1)]
    number = re.search(r"^::order (\S+)$", out, re.M)
    assert number, out
    token = (dev.data_dir / "admin-token").read_text().strip()
    order = httpx.get(
        f"{dev.base}/api/orders/{number[1]}", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert order["status"] == "completed", order
    assert order["totals"]["paid"] == order["totals"]["total"]
    assert order["totals"]["balance"] == "0.00"


def _text(output: bytes | str | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


@pytest_asyncio.fixture
async def sign_in(browser, make_run: MakeRun) -> AsyncIterator:  # noqa: F811
    """sign_in(person): a page signed in, in its own browser context, as the README says."""
    contexts = []

    async def open_as(person: str):
        kind = "staff" if person in STAFF else "customer"
        email, password = STAFF.get(person) or CUSTOMERS[person]
        assert re.search(rf"{re.escape(email)}\s+{re.escape(password)}\b", make_run.banner)
        context = await browser.new_context(
            base_url=make_run.dev.base, viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        page = await context.new_page()
        await page.goto("/login")
        if kind == "customer":
            await page.get_by_text("Customer center").click()
        form = page.get_by_test_id(f"{kind}-login")
        await form.get_by_label("E-mail").fill(email)
        await form.get_by_label("Password").fill(password)
        await form.get_by_role("button", name="Sign in").click()
        await page.wait_for_load_state()
        return page

    yield open_as
    for context in contexts:
        await context.close()


async def _menu(page, label: str) -> None:
    await page.locator("nav").get_by_role("link", name=label, exact=True).click()
    await page.wait_for_load_state()


async def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"readme-{name}.png"), full_page=True)


async def _new_order_for(page, customer: str) -> None:
    await _menu(page, "Orders")
    await page.get_by_role("link", name="New order").click()
    await page.get_by_label("Name, e-mail or customer number").fill(customer)
    await page.get_by_role("button", name="Find customer").click()
    await page.get_by_role("link", name="Enter an order").first.click()


async def _picking_waits_in_the_pool(dev: DevGroup, timeout: float = 120.0) -> None:
    """Until the background demo orders have put a picking task in the warehouse pool."""
    token = (dev.data_dir / "admin-token").read_text().strip()
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=dev.base, headers=headers) as client:
        while time.monotonic() < deadline:
            pool = await client.get("/api/tasks", params={"scope": "pool", "step": "picking"})
            if pool.status_code == 200 and pool.json()["data"]:
                return
            await asyncio.sleep(1)
    raise AssertionError("the demo orders put no picking task in the pool")


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}")
async def test_the_walkthrough_for_people_works_on_the_pages(sign_in, make_run: MakeRun) -> None:
    await _picking_waits_in_the_pool(make_run.dev)
    # 1. An order (Alice): lines by Find a product, Preview, Place order.
    alice = await sign_in("alice")
    await _new_order_for(alice, "Jane")
    await alice.get_by_label("Find a product (SKU or name)").fill("mouse")
    await alice.get_by_role("button", name="Find", exact=True).click()
    await alice.get_by_role("button", name="Add").first.click()
    await alice.get_by_role("button", name="Preview").click()
    await expect(alice.get_by_test_id("price-rule").first).to_be_visible()
    await alice.get_by_role("button", name="Place order").click()
    await alice.wait_for_url(re.compile(r"/orders/[A-Z]+-\d+$"))
    await _shot(alice, "01-order")
    # 2. A quote: a SKU typed on a line, Save as quote; its PDF and Revise quote.
    await _new_order_for(alice, "Contoso")
    await alice.get_by_label("SKU or name, line 1").fill("KB-MECH")
    valid_until = datetime.now(UTC).date() + timedelta(days=30)
    await alice.get_by_label("Quote valid until").fill(valid_until.isoformat())
    await alice.get_by_role("button", name="Save as quote").click()
    await expect(alice.get_by_role("link", name="Quote PDF")).to_be_visible()
    await expect(alice.get_by_role("link", name="Revise quote")).to_be_visible()
    # 3. Customers: New customer; a customer's page, Edit, Retire customer.
    await _menu(alice, "Customers")
    await alice.get_by_role("link", name="New customer").click()
    await expect(alice.get_by_role("button", name="Add customer")).to_be_visible()
    await _menu(alice, "Customers")
    await alice.get_by_role("link", name="Jane Doe").click()
    await alice.get_by_role("link", name="Edit", exact=True).click()
    await expect(alice.get_by_role("button", name="Retire customer")).to_be_visible()
    # 10. Messages.
    await _menu(alice, "Messages")
    await expect(alice.get_by_role("heading", name="Customer messages")).to_be_visible()

    # 4. Products and prices (Olivia); 5. People.
    olivia = await sign_in("olivia")
    await _menu(olivia, "Products & stock")
    await expect(olivia.get_by_role("link", name="New product")).to_be_visible()
    await olivia.get_by_role("link", name="KB-MECH", exact=True).click()
    await olivia.get_by_role("link", name="Edit", exact=True).click()
    await _menu(olivia, "Settings")
    await olivia.get_by_role("link", name="Prices", exact=True).click()
    await expect(olivia.get_by_role("link", name="New agreement")).to_be_visible()
    await expect(olivia.get_by_text("What price does a customer get?")).to_be_visible()
    await _menu(olivia, "Settings")
    for section in ("Taxes", "Shipping", "Warehouses"):
        await expect(olivia.get_by_role("link", name=section, exact=True)).to_be_visible()
    await olivia.get_by_role("link", name="People", exact=True).click()
    await olivia.get_by_role("link", name="New employee").click()
    await expect(olivia.get_by_role("button", name="Add employee")).to_be_visible()
    await _menu(olivia, "Mail")

    # 6. Stock (Walter): Stock levels, Receive goods, Move stock; Adjust and CSV import: Olivia.
    walter = await sign_in("walter")
    await _menu(walter, "Products & stock")
    await walter.get_by_role("link", name="Stock levels").click()
    await expect(walter.get_by_role("heading", name="Move stock")).to_be_visible()
    receive = walter.get_by_test_id("receive-form")
    await receive.get_by_label("SKU").fill("KB-MECH")
    await receive.get_by_label("Quantity").fill("5")
    await receive.get_by_role("button", name="Receive").click()
    await expect(walter.get_by_text("Received 5 x KB-MECH")).to_be_visible()
    await _shot(walter, "06-stock")
    await _menu(olivia, "Products & stock")
    await olivia.get_by_role("link", name="Stock levels").click()
    await expect(olivia.get_by_role("heading", name="Adjust stock")).to_be_visible()
    await olivia.get_by_role("link", name="CSV import").click()

    # 7. Pick and pack (Walter): Inbox, Role pool, the pick list and packing slip.
    await _menu(walter, "Inbox")
    await walter.get_by_text("Role pool").click()
    await walter.wait_for_url("**scope=pool**")
    picking = walter.get_by_test_id("task").filter(has=walter.get_by_test_id("pick-list")).first
    await expect(picking.get_by_role("link", name="Pick list (PDF)")).to_be_visible()
    number = await picking.get_attribute("data-order")
    await _shot(walter, "07-pick-list")
    await picking.get_by_role("button", name="Complete").click()
    await walter.wait_for_selector("#notice:has-text('completed')")
    await _menu(walter, "Inbox")  # My tasks: packing goes to whoever picked
    packing = walter.locator(f"[data-testid=task][data-order='{number}']")
    await expect(packing.get_by_role("link", name="Packing slip (PDF)")).to_be_visible()

    # 8. Invoices (Ann): an invoice with its PDF and Print.
    ann = await sign_in("ann")
    await _menu(ann, "Invoices")
    await ann.get_by_test_id("row").first.get_by_role("link").first.click()
    await expect(ann.get_by_test_id("invoice-standing")).to_be_visible()
    await expect(ann.get_by_role("link", name="PDF")).to_be_visible()
    await expect(ann.get_by_role("button", name="Print")).to_be_visible()

    # 9. The customer orders (Jane): Order, Add to cart, Go to checkout, the address, Place order.
    jane = await sign_in("jane")
    await _menu(jane, "Order")
    await jane.get_by_role("button", name="Add to cart").first.click()
    await jane.get_by_role("link", name="Go to checkout").click()
    await jane.get_by_label("Name (person or company)").fill("Jane Doe")
    await jane.get_by_label("Street and number").fill("1 Main Street")
    await jane.get_by_label("City").fill("Springfield")
    await jane.get_by_role("button", name="Save address").click()
    await jane.get_by_role("button", name=re.compile(r"^Place order · ")).click()
    await expect(jane.get_by_role("heading", name=re.compile(r"is placed$"))).to_be_visible()
    await _shot(jane, "09-shop-confirmation")
    await jane.get_by_role("link", name="Follow this order").click()
    await _menu(jane, "My orders")
    await _menu(jane, "My account")
    northwind = await sign_in("northwind")
    await expect(northwind.get_by_text("Quotes waiting for your answer")).to_be_visible()
