"""Purchasing pages without a browser: suppliers and prices from forms, a stock purchase order
from a form, mailed, received in parts and refused beyond the tolerance; CSV; the order page's
margin."""

import uuid

import httpx

from tests.conftest import ADMIN_TOKEN
from tests.utils.api import create_employee, create_product
from tests.utils.pages import staff_client


async def test_suppliers_prices_and_a_purchase_order_from_the_pages(api: httpx.AsyncClient) -> None:
    product = await create_product(api, on_hand=0, price="30.00")
    sku = product["sku"]
    admin = await staff_client(api, ADMIN_TOKEN)
    code = f"P{uuid.uuid4().hex[:6].upper()}"
    form = {
        "code": code, "name": "Paper Mill", "email": f"{code.lower()}@mill.example",
        "contact_name": "Bo", "phone": "1", "address": "Mill Lane", "payment_terms_days": "45",
        "currency": "USD", "lead_time_days": "3",
    }  # fmt: skip
    assert (await admin.get("/purchasing/suppliers/new")).status_code == 200
    bad = await admin.post("/purchasing/suppliers", form | {"email": "nope"})
    assert bad.status_code == 422 and 'data-field="email"' in bad.text
    created = await admin.post("/purchasing/suppliers", form)
    assert created.status_code == 303, created.text
    assert created.headers["location"] == f"/purchasing/suppliers/{code}"
    edited = await admin.post(f"/purchasing/suppliers/{code}", form | {"lead_time_days": "4"})
    assert edited.status_code == 303, edited.text
    page = await admin.get(f"/purchasing/suppliers/{code}")
    assert 'data-action="supplier.update"' in page.text
    listing = await admin.get("/purchasing/suppliers")
    assert f'data-code="{code}"' in listing.text
    csv = await admin.get("/purchasing/suppliers.csv")
    assert csv.status_code == 200 and f"{code},Paper Mill" in csv.text

    price = {"sku": sku, "min_qty": "10", "unit_price": "12.00", "discount_percent": "10"}
    added = await admin.post(f"/purchasing/suppliers/{code}/prices", price)
    assert added.status_code == 303, added.text
    assert "10.8000" in (await admin.get(f"/purchasing/suppliers/{code}")).text  # net price
    twice = await admin.post(f"/purchasing/suppliers/{code}/prices", price)
    assert twice.status_code == 422 and "already has a price" in twice.text

    assert (await admin.get("/purchasing/orders/new")).status_code == 200
    wrong = await admin.post(
        "/purchasing/orders", {"supplier": code, "warehouse": "MAIN", "lines": f"{sku} many"}
    )
    assert wrong.status_code == 422 and "line 1" in wrong.text
    unpriced = await admin.post(
        "/purchasing/orders", {"supplier": code, "warehouse": "MAIN", "lines": f"{sku} 2"}
    )
    assert unpriced.status_code == 422 and "no price for 2" in unpriced.text
    key = uuid.uuid4().hex
    order_form = {"supplier": code, "warehouse": "MAIN", "lines": f"{sku} 20", "key": key}
    po = await admin.post("/purchasing/orders", order_form)
    assert po.status_code == 303, po.text
    url = po.headers["location"]
    assert (await admin.post("/purchasing/orders", order_form)).headers["location"] == url
    number = url.rsplit("/", 1)[1]
    shown = await admin.get(url)
    assert "10.8000" in shown.text and 'data-testid="receive-form"' in shown.text
    assert f'data-number="{number}"' in (await admin.get("/purchasing/orders")).text
    assert number in (await admin.get("/purchasing/orders.csv")).text

    sent = await admin.post(f"{url}/send")
    assert sent.status_code == 303
    assert "mailed to" in (await admin.get(url)).text

    part = await admin.post(f"{url}/receive", {f"qty:{sku}": "12", "reference": "DN-7", "key": "a"})
    assert part.status_code == 303
    after = await admin.get(url)
    assert "Goods received" in after.text and "DN-7" in after.text
    over = await admin.post(f"{url}/receive", {f"qty:{sku}": "10", "key": "b"})
    assert over.status_code == 303
    refused = await admin.get(url)
    assert "Not received" in refused.text and "at most 21" in refused.text
    stock = (await api.get(f"/api/inventory/{sku}")).json()
    assert stock["on_hand"] == 12

    warehouse = await create_employee(api, ["warehouse"])
    clerk = await staff_client(api, warehouse["token"])
    assert (await clerk.get(url)).status_code == 200
    assert (await clerk.get("/purchasing/orders/new")).status_code == 403
    rest = await clerk.post(f"{url}/receive", {f"qty:{sku}": "8", "key": "c"})
    assert rest.status_code == 303
    assert 'data-testid="po-status">received' in (await clerk.get(url)).text
    sales = await create_employee(api, ["sales"])
    rep = await staff_client(api, sales["token"])
    assert (await rep.get("/purchasing/orders")).status_code == 403
