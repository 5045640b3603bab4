"""Replenishment: a SKU at or below its reorder point in a warehouse is suggested with the
supplier to buy from; ticked suggestions become purchase orders, after which the incoming goods
keep it off the list."""

import httpx

from tests.conftest import ADMIN_TOKEN
from tests.purchasing.test_purchase_orders import add_price, make_supplier
from tests.utils.api import create_employee, create_product
from tests.utils.pages import staff_client


async def test_suggestions_become_purchase_orders(api: httpx.AsyncClient) -> None:
    low = await create_product(api, on_hand=3)
    fine = await create_product(api, on_hand=30)
    unquoted = await create_product(api, on_hand=0)
    supplier = await make_supplier(api)
    await add_price(api, supplier["code"], sku=low["sku"], unit_price="2.00")
    for product in (low, fine, unquoted):
        answer = await api.post(
            f"/api/inventory/{product['sku']}/reorder-level",
            json={"warehouse": "MAIN", "reorder_level": 5, "reorder_qty": 20},
        )
        assert answer.status_code == 200, answer.text
    # Leaving the quantity out keeps it.
    kept = await api.post(
        f"/api/inventory/{low['sku']}/reorder-level", json={"warehouse": "MAIN", "reorder_level": 4}
    )
    assert kept.status_code == 200

    admin = await staff_client(api, ADMIN_TOKEN)
    page = await admin.get("/purchasing/suggestions")
    assert page.status_code == 200
    assert f'data-ref="{low["sku"]}@MAIN"' in page.text
    assert f'data-ref="{unquoted["sku"]}@MAIN"' in page.text and "no supplier quotes" in page.text
    assert f'data-ref="{fine["sku"]}@MAIN"' not in page.text

    refused = await admin.post("/purchasing/suggestions", {"pick": f"{unquoted['sku']}@MAIN"})
    assert refused.status_code == 303
    assert "no supplier quotes" in (await admin.get("/purchasing/suggestions")).text

    ordered = await admin.post(
        "/purchasing/suggestions", {"pick": f"{low['sku']}@MAIN", "key": "k1"}
    )
    assert ordered.status_code == 303 and ordered.headers["location"] == "/purchasing/orders"
    (po,) = [
        p
        for p in (await api.get("/api/purchase-orders", params={"kind": "stock"})).json()
        if p["lines"][0]["sku"] == low["sku"]
    ]
    assert (po["supplier"], po["warehouse"], po["lines"][0]["qty"]) == (
        supplier["code"],
        "MAIN",
        20,
    )
    after = await admin.get("/purchasing/suggestions")
    assert f'data-ref="{low["sku"]}@MAIN"' not in after.text  # 3 + 20 incoming > 4

    sales = await create_employee(api, ["sales"])
    rep = await staff_client(api, sales["token"])
    assert (await rep.get("/purchasing/suggestions")).status_code == 403
