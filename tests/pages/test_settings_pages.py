"""Settings pages without a browser: prices, taxes, shipping, warehouses; edits and refusals."""

import uuid

import httpx

from tests.conftest import ADMIN_TOKEN
from tests.utils.api import create_customer, create_employee, create_product
from tests.utils.pages import staff_client


async def test_price_agreement_pages_edit_end_and_preview(api: httpx.AsyncClient) -> None:
    product = await create_product(api, price="20.00")
    customer = await create_customer(api, group="gold")
    admin = await staff_client(api, ADMIN_TOKEN)
    assert (await admin.get("/settings/prices/new")).status_code == 200
    form = {"name": "Gold", "scope": "line", "priority": "0", "min_qty": "1", "currency": "USD"}
    form |= {"sku": product["sku"], "customer_id": str(customer["id"]), "active": "on"}
    bad = await admin.post("/settings/prices", form | {"unit_price": "x"})
    assert bad.status_code == 422 and 'data-field="unit_price"' in bad.text
    created = await admin.post("/settings/prices", form | {"unit_price": "18.00"})
    assert created.status_code == 303, created.text
    url = created.headers["location"]
    edited = await admin.post(url, form | {"unit_price": "16.00"})
    assert edited.status_code == 303, edited.text
    page = await admin.get(url)
    assert 'data-action="price_agreement.update"' in page.text and "16.00" in page.text
    inverted = await admin.post(
        url, form | {"unit_price": "16.00", "valid_from": "2027-02-01", "valid_to": "2027-01-01"}
    )
    assert inverted.status_code == 422 and "before valid_from" in inverted.text
    overlap = await admin.post("/settings/prices", form | {"unit_price": "1.00"})
    assert overlap.status_code == 409 and "overlaps agreement" in overlap.text

    listed = await admin.get(
        "/settings/prices", params={"sku": product["sku"], "state": "in_force"}
    )
    assert 'data-testid="agreement"' in listed.text
    assert 'data-testid="pager">1 found' in listed.text  # the lists' one pager
    audit = await admin.get("/audit", params={"entity": "price_agreement"})
    assert audit.status_code == 200 and 'data-testid="pager">' in audit.text
    query = {"p_customer": customer["id"], "p_sku": product["sku"], "p_qty": 2}
    preview = await admin.get("/settings/prices", params=query)
    assert "16.00" in preview.text and "agreement " in preview.text and ": Gold" in preview.text

    early = await admin.post(f"{url}/end", {"valid_to": "2000-01-01"})
    assert early.status_code == 303  # no start date: any end date goes
    again = await admin.post(f"{url}/end", {"valid_to": "2001-01-01"})
    assert again.status_code == 303
    assert "already ends" in (await admin.get(again.headers["location"])).text
    cleared = await admin.get("/settings/prices", params=query)
    assert "list price" in cleared.text

    sales = await create_employee(api, ["sales"], clearance=3)
    rep = await staff_client(api, sales["token"])
    assert (await rep.get(url)).status_code == 200  # prices.view reads
    assert (await rep.post(url, form)).status_code == 403
    assert (await rep.get("/settings/prices/new")).status_code == 403
    await rep.aclose()
    await admin.aclose()


async def test_tax_shipping_and_warehouse_pages(api: httpx.AsyncClient) -> None:
    admin = await staff_client(api, ADMIN_TOKEN)
    tax = {"name": "DE", "tax_class": "standard", "country": "DE", "rate": "19"}
    created = await admin.post("/settings/taxes", tax)
    assert created.status_code == 303, created.text
    url = created.headers["location"]
    wrong = await admin.post(url, tax | {"country": "Germany"})
    assert wrong.status_code == 422 and 'data-field="country"' in wrong.text
    assert (await admin.post(url, tax | {"rate": "7"})).status_code == 303
    assert 'data-action="tax_rate.update"' in (await admin.get(url)).text
    assert (await admin.post(f"{url}/retire")).status_code == 303
    assert 'data-testid="retired"' in (await admin.get(url)).text
    late = await admin.post(url, tax | {"rate": "8"})
    assert late.status_code == 303 and late.headers["location"] == url
    alert = (await admin.get(url)).text
    assert "Not saved: tax rate" in alert and "is retired; add a new rate instead" in alert
    assert (
        f'data-id="{url.rsplit("/", 1)[1]}"'
        in (await admin.get("/settings/taxes?retired=yes")).text
    )

    ship = {
        "name": "FR",
        "country": "FR",
        "currency": "USD",
        "amount": "5",
        "tax_class": "standard",
    }
    shipped = await admin.post("/settings/shipping", ship | {"priority": "0"})
    assert shipped.status_code == 303, shipped.text
    assert (await admin.get("/settings/shipping")).status_code == 200

    code = f"W{uuid.uuid4().hex[:6].upper()}"
    made = await admin.post("/settings/warehouses", {"code": code, "name": "West"})
    assert made.status_code == 303, made.text
    again = await admin.post("/settings/warehouses", {"code": code})
    assert again.status_code == 422 and "already exists" in again.text
    wurl = f"/settings/warehouses/{code}"
    saved = await admin.post(
        wurl, {"name": "West", "address": "1 Dock Rd", "staging_location": "ST-2"}
    )
    assert saved.status_code == 303
    product = await create_product(api, on_hand=0)
    received = await api.post(
        f"/api/inventory/{product['sku']}/receive", json={"qty": 2, "warehouse": code}
    )
    assert received.status_code == 200
    page = await admin.get(wurl)
    assert 'data-testid="retire-refusal"' in page.text and "ST-2" in page.text
    refused = await admin.post(f"{wurl}/retire")
    assert refused.status_code == 303
    assert "still holds stock" in (await admin.get(wurl)).text
    listed = await admin.get("/settings/warehouses")
    assert f'data-code="{code}"' in listed.text

    clerk = await create_employee(api, ["warehouse"], clearance=3)
    staff = await staff_client(api, clerk["token"])
    assert (await staff.get(wurl)).status_code == 200  # stock.view reads
    assert (await staff.post(f"{wurl}/retire")).status_code == 403
    assert (await staff.get("/settings/taxes")).status_code == 403
    await staff.aclose()
    await admin.aclose()


async def test_settings_start_page_links_what_each_person_may_open(api: httpx.AsyncClient) -> None:
    admin = await staff_client(api, ADMIN_TOKEN)
    clerk = await create_employee(api, ["warehouse"])
    rep = await create_employee(api, ["sales"])
    warehouse = await staff_client(api, clerk["token"])
    sales = await staff_client(api, rep["token"])
    try:
        page = await admin.get("/settings")
        assert page.status_code == 200
        for href in (
            "/settings/prices",
            "/settings/taxes",
            "/settings/shipping",
            "/settings/warehouses",
        ):
            assert f'href="{href}"' in page.text, href
            assert (await admin.get(href)).status_code == 200, href
        assert 'href="/settings" aria-current="page"' in page.text
        assert (await sales.get("/settings")).status_code == 200
        refused = await warehouse.get("/settings")
        assert refused.status_code == 403 and "prices.view" in refused.text
    finally:
        for client in (admin, warehouse, sales):
            await client.aclose()


async def test_a_retired_warehouse_takes_no_receipts_and_no_orders(api: httpx.AsyncClient) -> None:
    admin = await staff_client(api, ADMIN_TOKEN)
    code = f"R{uuid.uuid4().hex[:6].upper()}"
    assert (await admin.post("/settings/warehouses", {"code": code})).status_code == 303
    assert (await admin.post(f"/settings/warehouses/{code}/retire")).status_code == 303
    assert 'data-testid="retired"' in (await admin.get(f"/settings/warehouses/{code}")).text
    product = await create_product(api, on_hand=3)
    why = f"warehouse {code} is retired"

    # The stock page: refused next to the warehouse field, and not offered in its choices.
    page = await admin.post(
        "/stock/receive", {"sku": product["sku"], "warehouse": code, "qty": "2"}
    )
    assert page.status_code == 422 and why in page.text
    assert 'data-testid="error-receive-warehouse"' in page.text
    stock = (await admin.get("/stock")).text
    receive_form = stock[stock.index('data-testid="receive-form"') :]
    assert f'<option value="{code}"' not in receive_form[: receive_form.index("</form>")]
    await admin.aclose()

    # The API's receipt and a new order naming it.
    received = await api.post(
        f"/api/inventory/{product['sku']}/receive", json={"qty": 2, "warehouse": code}
    )
    assert received.status_code == 422 and why in received.text
    assert (await api.get(f"/api/inventory/{product['sku']}")).json()["on_hand"] == 3
    customer = await create_customer(api)
    order = {"customer_id": customer["id"], "lines": [{"sku": product["sku"], "qty": 1}]}
    refused = await api.post("/api/orders", json=order | {"warehouse": code})
    assert refused.status_code == 422 and why in refused.text, refused.text
    assert (await api.post("/api/orders", json=order | {"warehouse": "MAIN"})).status_code == 201
