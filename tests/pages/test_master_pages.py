"""Master data pages: customer and product forms, errors next to their fields, retiring."""

import re
import uuid

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import select

from conveyor.core.db import session_scope
from conveyor.inventory.models import Product
from tests.conftest import ADMIN_TOKEN
from tests.utils.api import create_customer, create_employee, place_order
from tests.utils.pages import staff_client


def _field_error(html: str, field: str) -> str:
    """The error shown inside the label of `field` ("" when none)."""
    match = re.search(
        rf'data-field="{field}">.*?'
        r'(?:<span class="field-error" role="alert">(.*?)</span>|</label>)',
        html,
        re.S,
    )
    assert match, f"no field {field} on the page"
    return match.group(1) or ""


async def test_customer_form_create_edit_errors_and_history(api: httpx.AsyncClient) -> None:
    admin = await staff_client(api, ADMIN_TOKEN)
    assert (await admin.get("/customers/new")).status_code == 200
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    form = {"name": "Acme", "email": email, "group": "trade", "country": "DE"}
    form |= {"credit_limit": "1000.00", "payment_terms_days": "14", "account_rep_id": ""}
    created = await admin.post("/customers/new", form)
    assert created.status_code == 303, created.text
    url = created.headers["location"]
    customer_id = int(url.split("/")[2])

    bad = await admin.post(url, form | {"credit_limit": "-5", "email": "nope"})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("text/html") and '"detail"' not in bad.text
    assert "greater than or equal to 0" in _field_error(bad.text, "credit_limit")
    assert "email" in _field_error(bad.text, "email").lower()
    assert _field_error(bad.text, "name") == ""
    taken = await create_customer(api)
    clash = await admin.post(url, form | {"email": taken["email"]})
    assert clash.status_code == 409
    assert "already exists" in _field_error(clash.text, "email")

    saved = await admin.post(url, form | {"credit_limit": "2500.00"})
    assert saved.status_code == 303
    page = await admin.get(url)
    assert 'data-testid="audit-history"' in page.text and "customer.update" in page.text
    assert (await api.get(f"/api/customers/{customer_id}")).json()["credit_limit"] == "2500.00"

    address = {"kind": "shipping", "name": "Dock", "line1": "1 Road", "city": "Berlin"}
    missing = await admin.post(f"/customers/{customer_id}/addresses", address | {"country": ""})
    assert missing.status_code == 422
    address_form = missing.text.split('data-testid="address-form"', 1)[1]
    assert _field_error(address_form, "country") != ""
    added = await admin.post(f"/customers/{customer_id}/addresses", address | {"country": "de"})
    assert added.status_code == 303
    contact = await admin.post(
        f"/customers/{customer_id}/contacts", {"name": "Ann", "email": "ann@example.com"}
    )
    assert contact.status_code == 303
    page = await admin.get(url)
    assert "1 Road" in page.text and "ann@example.com" in page.text

    retired = await admin.post(f"/customers/{customer_id}/retire")
    assert retired.status_code == 303
    page = await admin.get(url)
    assert 'data-testid="retired"' in page.text
    await admin.aclose()


async def test_customer_form_needs_customers_edit(api: httpx.AsyncClient) -> None:
    customer = await create_customer(api)
    clerk = await create_employee(api, ["warehouse"], clearance=3)
    page_client = await staff_client(api, clerk["token"])
    assert (await page_client.get(f"/customers/{customer['id']}/edit")).status_code == 403
    refused = await page_client.post(f"/customers/{customer['id']}/retire")
    assert refused.status_code == 403
    assert (await api.get(f"/api/customers/{customer['id']}")).json()["retired_at"] is None
    await page_client.aclose()


async def test_customer_page_links_to_its_edit_page_for_who_may_edit(
    api: httpx.AsyncClient,
) -> None:
    customer = await create_customer(api)
    link = f'href="/customers/{customer["id"]}/edit"'
    desk = await create_employee(api, ["order_desk"], clearance=2)
    accountant = await create_employee(api, ["accountant"], clearance=3)  # views, cannot edit
    for person, sees in ((desk, True), (accountant, False)):
        page_client = await staff_client(api, person["token"])
        page = await page_client.get(f"/customers/{customer['id']}")
        assert page.status_code == 200
        assert (link in page.text) is sees
        await page_client.aclose()


async def test_product_form_create_edit_bins_and_retire_refusal(
    api: httpx.AsyncClient, worker: None
) -> None:
    admin = await staff_client(api, ADMIN_TOKEN)
    sku = f"PG-{uuid.uuid4().hex[:6]}"
    form = {"sku": sku, "name": "", "price": "5.00", "currency": "USD", "tax_class": "standard"}
    nameless = await admin.post("/products/new", form)
    assert nameless.status_code == 422
    assert _field_error(nameless.text, "name") != ""
    created = await admin.post("/products/new", form | {"name": "Widget", "tags": "a, b"})
    assert created.status_code == 303, created.text
    product = (await api.get(f"/api/inventory/{sku}")).json()
    assert product["warehouses"][0]["location"] == sku.upper()

    url = f"/products/{sku}/edit"
    edit = {"name": "Widget 2", "price": "6.00", "tax_class": "standard", "tags": "a"}
    bad = await admin.post(url, edit | {"price": "abc"})
    assert bad.status_code == 422 and _field_error(bad.text, "price") != ""
    saved = await admin.post(url, edit | {"bin_MAIN": "C-03"})
    assert saved.status_code == 303
    assert (await api.get(f"/api/inventory/{sku}")).json()["warehouses"][0]["location"] == "C-03"
    page = await admin.get(url)
    assert "product.update" in page.text

    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(sku, 1)])
    refused = await admin.post(f"/products/{sku}/retire", follow_redirects=True)
    assert order["number"] in refused.text and "Not retired" in refused.text
    await admin.aclose()


def _kind(engine: Engine, sku: str) -> str:
    with session_scope(engine) as session:
        return session.exec(select(Product.kind).where(Product.sku == sku)).one()


async def test_product_form_makes_a_service(api: httpx.AsyncClient, engine: Engine) -> None:
    admin = await staff_client(api, ADMIN_TOKEN)
    sku = f"SV-{uuid.uuid4().hex[:6]}"
    form = {"sku": sku, "name": "Setup", "price": "50.00", "currency": "USD"}
    new = await admin.get("/products/new")
    assert 'name="kind"' in new.text and "service (no stock)" in new.text
    created = await admin.post("/products/new", form | {"tax_class": "standard", "kind": "service"})
    assert created.status_code == 303, created.text
    assert _kind(engine, sku) == "service"
    assert (await api.get(f"/api/inventory/{sku}")).json()["stocked"] is False
    record = await admin.get(f"/products/{sku}")
    assert 'data-testid="service-product"' in record.text
    assert 'data-testid="product-stock"' not in record.text  # no stock table, no "0 available"
    listed = await admin.get("/products", params={"sku": sku})
    assert '<span class="pill">service</span>' in listed.text
    edit = {"name": "Setup", "price": "50.00", "tax_class": "standard"}
    back = await admin.post(f"/products/{sku}/edit", edit | {"kind": "goods"})
    assert back.status_code == 303, back.text
    assert _kind(engine, sku) == "goods"
    await admin.aclose()
