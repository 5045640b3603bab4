"""Customer-center ordering over HTTP: catalogue prices, the cart, checkout, the account page."""

import asyncio
import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from conveyor.audit.models import AuditEntry
from conveyor.core.db import session_scope
from conveyor.core.models import utcnow
from conveyor.inventory.models import Product
from conveyor.shop.models import Cart
from tests.utils.api import create_customer, create_product, wait_for_order
from tests.utils.pages import PageClient, customer_client, open_customer_account

ROOT = Path(__file__).resolve().parents[2]
KEY = re.compile(r'name="checkout_key" value="([^"]+)"')
ADDRESS = {
    "kind": "shipping",
    "name": "Acme Receiving",
    "line1": "1 Dock Road",
    "city": "Springfield",
    "postcode": "12345",
    "country": "US",
}


@pytest.fixture
def rules_dir() -> Path:
    """The rules Conveyor ships with: customer-center orders must be handled by them."""
    return ROOT / "routing_rules" / "rules"


async def _buyer(api: httpx.AsyncClient, engine: Engine, **extra) -> tuple[dict, PageClient]:
    customer = await create_customer(api, **extra)
    open_customer_account(engine, customer["id"], "s3cret-pass")
    return customer, await customer_client(api, customer["email"], "s3cret-pass")


def _retire(engine: Engine, sku: str) -> None:
    with session_scope(engine) as session:
        product = session.exec(select(Product).where(Product.sku == sku)).one()
        product.retired_at = utcnow()
        session.add(product)


def _row(page: str, sku: str) -> str:
    match = re.search(rf'<tr data-sku="{re.escape(sku)}">(.*?)</tr>', page, re.S)
    assert match, f"{sku} not on the page"
    return match.group(1)


def _flash(page: str) -> str:
    match = re.search(
        r'<div class="flash[^"]*" role="(?:status|alert)"[^>]*>(.*?)</div>', page, re.S
    )
    return match.group(1) if match else ""


async def test_the_catalogue_shows_the_customers_own_prices_and_availability(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    tag = "Catalogue"
    plenty = await create_product(api, on_hand=50, price="100.00", name=f"{tag} desk")
    few = await create_product(api, on_hand=3, price="40.00", name=f"{tag} lamp")
    none = await create_product(api, on_hand=0, price="5.00", name=f"{tag} cable")
    gone = await create_product(api, on_hand=9, price="7.00", name=f"{tag} relic")
    _retire(engine, gone["sku"])
    mine, buyer = await _buyer(api, engine, group="wholesale")
    _, stranger = await _buyer(api, engine)
    deal = {"sku": plenty["sku"], "customer_id": mine["id"], "unit_price": "80.00"}
    group = {"sku": few["sku"], "customer_group": "wholesale", "discount_percent": "25"}
    for agreement in (deal, group):
        created = await api.post("/api/price-agreements", json={"name": "deal", **agreement})
        assert created.status_code == 201, created.text

    page = (await buyer.get("/shop", params={"q": tag})).text
    assert "80.00 USD" in _row(page, plenty["sku"]) and "in stock" in _row(page, plenty["sku"])
    assert "30.00 USD" in _row(page, few["sku"]) and "3 available" in _row(page, few["sku"])
    assert "on backorder" in _row(page, none["sku"])
    assert gone["sku"] not in page  # retired: not on sale
    theirs = (await stranger.get("/shop", params={"q": tag})).text
    assert "100.00 USD" in _row(theirs, plenty["sku"]) and "40.00 USD" in _row(theirs, few["sku"])

    searched = (await buyer.get("/shop", params={"q": f"{tag} lamp"})).text
    assert few["sku"] in searched and plenty["sku"] not in searched
    product = await buyer.get(f"/shop/products/{plenty['sku']}")
    assert product.status_code == 200 and "80.00 USD" in product.text
    assert (await buyer.get(f"/shop/products/{gone['sku']}")).status_code == 404
    assert (await buyer.get("/shop", params={"page": 999})).status_code == 200
    assert (await buyer.get("/shop", params={"q": "x" * 101})).status_code == 422
    await buyer.aclose()
    await stranger.aclose()


async def test_the_cart_is_bounded_refuses_what_cannot_be_sold_and_survives_sign_out(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    printer = await create_product(api, on_hand=5, price="120.00", name="Printer")
    laptop = await create_product(
        api, on_hand=5, price="900.00", name="Laptop", options=[printer["sku"]]
    )
    other = await create_product(api, on_hand=5, price="1.00")
    retired = await create_product(api, on_hand=5, price="1.00")
    _retire(engine, retired["sku"])
    customer, buyer = await _buyer(api, engine)

    async def add(sku: str, qty: str, options: list[str] | None = None) -> str:
        answer = await buyer.post("/shop/cart", {"sku": sku, "qty": qty, "options": options or []})
        assert answer.status_code == 303
        return _flash((await buyer.get(answer.headers["location"])).text)

    assert "Not added" in await add(laptop["sku"], "0")
    assert "Not added" in await add(laptop["sku"], "1001")
    assert "Not added" in await add(laptop["sku"], "two")
    assert "unknown product" in await add("NO-SUCH-SKU", "1")
    assert "no longer sold" in await add(retired["sku"], "1")
    assert "is not an option" in await add(laptop["sku"], "1", [other["sku"]])
    assert "in your cart" in await add(laptop["sku"], "2", [printer["sku"]])
    assert "in your cart" in await add(laptop["sku"], "998")
    assert "between 1 and 1000" in await add(laptop["sku"], "1")  # 1001 on the line in all
    assert "in your cart" in await add(other["sku"], "1")
    changed = await buyer.post(f"/shop/cart/{other['sku']}", {"qty": "0"})
    assert changed.status_code == 303
    missing = await buyer.post("/shop/cart/NO-SUCH-SKU", {"qty": "1"})
    assert "not in your cart" in _flash((await buyer.get(missing.headers["location"])).text)

    await buyer.post("/logout")
    await buyer.aclose()
    again = await customer_client(api, customer["email"], "s3cret-pass")
    cart = (await again.get("/shop/cart")).text
    assert 'value="1000"' in _row(cart, laptop["sku"]) and "+ option Printer" in cart
    assert other["sku"] not in cart
    # 1000 laptops and 1000 printers at list price (no tax or shipping rates here).
    assert "1,020,000.00 USD" in cart
    with session_scope(engine) as session:
        actions = session.exec(
            select(AuditEntry.action)
            .where(AuditEntry.entity == "cart")
            .where(AuditEntry.entity_id == str(customer["id"]))
            .where(AuditEntry.actor == customer["email"])
        ).all()
    assert sorted(set(actions)) == ["cart.add", "cart.remove"]
    await again.aclose()


async def _add_address(client: PageClient, **fields) -> None:
    answer = await client.post("/customer/account/addresses", {**ADDRESS, **fields})
    assert answer.status_code == 303, answer.text


async def test_checkout_places_one_customer_center_order_even_when_submitted_twice(
    api: httpx.AsyncClient, worker, engine: Engine, mailbox
) -> None:
    product = await create_product(api, on_hand=20, price="25.00", name="Widget")
    customer, buyer = await _buyer(api, engine)
    _, stranger = await _buyer(api, engine)
    await buyer.post("/shop/cart", {"sku": product["sku"], "qty": "3"})
    empty_address = await buyer.get("/shop/checkout")
    assert 'data-testid="address-form"' in empty_address.text  # no address yet: add one first
    await _add_address(buyer, next="/shop/checkout")
    page = (await buyer.get("/shop/checkout")).text
    key = KEY.search(page).group(1)
    address_id = re.search(r'name="ship_to_address_id" value="(\d+)"', page).group(1)
    wanted = (utcnow().date() + timedelta(days=10)).isoformat()
    form = {
        "checkout_key": key,
        "ship_to_address_id": address_id,
        "customer_po": "PO-4711",
        "requested_delivery_date": wanted,
    }
    # A double click: two submits at once, then a third after the first went through.
    first, second = await asyncio.gather(
        buyer.post("/shop/checkout", form), buyer.post("/shop/checkout", form)
    )
    third = await buyer.post("/shop/checkout", form)
    locations = {first.headers["location"], second.headers["location"], third.headers["location"]}
    assert len(locations) == 1, locations
    number = locations.pop().rsplit("/", 1)[-1]
    listed = await api.get(
        "/api/orders", params={"customer_id": customer["id"], "channel": "customer_center"}
    )
    assert [o["number"] for o in listed.json()["data"]] == [number]

    confirmation = await buyer.get(f"/shop/orders/{number}")
    assert confirmation.status_code == 200 and "PO-4711" in confirmation.text
    assert "75.00 USD" in confirmation.text and "1 Dock Road" in confirmation.text
    assert (await stranger.get(f"/shop/orders/{number}")).status_code == 404
    assert "Your cart is empty" in (await buyer.get("/shop/cart")).text
    order = await wait_for_order(api, number, lambda o: o["rule"] is not None)
    assert order["channel"] == "customer_center" and order["rule"] == "default"
    assert order["customer_po"] == "PO-4711" and order["requested_delivery_date"] == wanted
    for _ in range(100):
        if any(number in str(m["Subject"]) for m in mailbox.to(customer["email"])):
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("no confirmation mail")

    # A form older than the cart places nothing; someone else's address is not found.
    await buyer.post("/shop/cart", {"sku": product["sku"], "qty": "1"})
    stale = await buyer.post("/shop/checkout", {**form, "checkout_key": "stale"})
    assert "cart changed" in _flash((await buyer.get(stale.headers["location"])).text)
    fresh_key = KEY.search((await buyer.get("/shop/checkout")).text).group(1)
    await _add_address(stranger)
    theirs = re.search(r'data-address="(\d+)"', (await stranger.get("/customer/account")).text)
    foreign = await buyer.post(
        "/shop/checkout", {"checkout_key": fresh_key, "ship_to_address_id": theirs.group(1)}
    )
    assert foreign.status_code == 404
    listed = await api.get("/api/orders", params={"customer_id": customer["id"]})
    assert listed.json()["count"] == 1
    await buyer.aclose()
    await stranger.aclose()


async def test_customers_keep_their_addresses_contacts_and_password(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    customer, me = await _buyer(api, engine)
    other_browser = await customer_client(api, customer["email"], "s3cret-pass")
    _, stranger = await _buyer(api, engine)

    bad = await me.post("/customer/account/addresses", {**ADDRESS, "country": "U1"})
    assert "country" in _flash((await me.get(bad.headers["location"])).text)
    await _add_address(me)
    await _add_address(me, line1="2 Side Street")
    page = (await me.get("/customer/account")).text
    first, second = re.findall(r'data-address="(\d+)"', page)
    assert (await me.post(f"/customer/account/addresses/{second}/default")).status_code == 303
    assert (await me.post(f"/customer/account/addresses/{first}/retire")).status_code == 303
    page = (await me.get("/customer/account")).text
    assert "1 Dock Road" not in page and "2 Side Street" in page and ">default<" in page
    contact = {"name": "Pat Buyer", "email": "pat@example.com", "role": "purchasing"}
    assert (await me.post("/customer/account/contacts", contact)).status_code == 303
    page = (await me.get("/customer/account")).text
    contact_id = re.search(r'data-contact="(\d+)"', page).group(1)
    assert "pat@example.com" in page

    # Someone else's address or contact: not found, and nothing changes.
    for url in (
        f"/customer/account/addresses/{second}/retire",
        f"/customer/account/addresses/{second}/default",
        f"/customer/account/contacts/{contact_id}/retire",
    ):
        assert (await stranger.post(url)).status_code == 404, url
    assert "2 Side Street" in (await me.get("/customer/account")).text

    wrong = await me.post(
        "/customer/account/password",
        {"current": "not-it", "password": "brand-new-pass", "confirm": "brand-new-pass"},
    )
    assert wrong.status_code == 422 and "not right" in wrong.text
    short = await me.post(
        "/customer/account/password", {"current": "s3cret-pass", "password": "x", "confirm": "x"}
    )
    assert short.status_code == 422
    changed = await me.post(
        "/customer/account/password",
        {"current": "s3cret-pass", "password": "brand-new-pass", "confirm": "brand-new-pass"},
    )
    assert changed.status_code == 303
    assert (await me.get("/customer/account")).status_code == 200  # this browser stays in
    assert (await other_browser.get("/customer/account")).status_code == 303  # the other is out
    again = await customer_client(api, customer["email"], "brand-new-pass")
    with session_scope(engine) as session:
        actions = session.exec(
            select(AuditEntry.action)
            .where(AuditEntry.entity == "customer")
            .where(AuditEntry.entity_id == str(customer["id"]))
            .where(AuditEntry.actor == customer["email"])
            .order_by(col(AuditEntry.id))
        ).all()
        assert session.exec(select(Cart).where(Cart.customer_id == customer["id"])).first() is None
    assert {
        "customer.address_add",
        "customer.address_update",
        "customer.address_retire",
        "customer.contact_add",
        "customer.password_change",
    } <= set(actions)
    for client in (me, other_browser, stranger, again):
        await client.aclose()
