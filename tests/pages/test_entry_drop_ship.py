"""The staff order entry page's drop-ship box on a drop-ship allowable product's line: the line
ships from the supplier, the order page marks it; asked for a plain product, it is refused."""

import re

import httpx

from tests.utils.api import create_customer, create_employee, create_product
from tests.utils.pages import staff_client

NUMBER = re.compile(r"/orders/([^/?]+)$")


async def test_a_line_asked_drop_ship_on_the_entry_page(api: httpx.AsyncClient) -> None:
    chair = await create_product(
        api, on_hand=5, price="80.00", drop_ship_allowed=True, supplier_email="c@chairs.example"
    )
    lamp = await create_product(api, on_hand=5, price="20.00")
    customer = await create_customer(api)
    rep = await staff_client(api, (await create_employee(api, ["sales"], 3))["token"])
    url = f"/orders/new?customer_id={customer['id']}"
    lines = {"sku-0": chair["sku"], "qty-0": "1", "sku-1": lamp["sku"], "qty-1": "1"}
    preview = await rep.post(url, {"action": "preview", **lines})
    assert preview.status_code == 200, preview.text
    assert preview.text.count('name="drop_ship-') == 1  # only the allowable product's line
    assert 'name="drop_ship-0"' in preview.text

    refused = await rep.post(url, {"action": "place", **lines, "drop_ship-1": "on"})
    assert refused.status_code == 422
    assert f"{lamp['sku']} is not drop-ship allowable" in refused.text

    form = await rep.get(url)
    key = re.search(r'name="key" value="([^"]+)"', form.text).group(1)
    placed = await rep.post(url, {"action": "place", "key": key, **lines, "drop_ship-0": "on"})
    assert placed.status_code == 303, placed.text
    number = NUMBER.search(placed.headers["location"]).group(1)
    order = (await api.get(f"/api/orders/{number}")).json()
    assert {ln["sku"]: ln["drop_ship"] for ln in order["lines"]} == {
        chair["sku"]: True,
        lamp["sku"]: False,
    }
    page = await rep.get(placed.headers["location"])
    assert page.text.count('data-testid="drop-ship"') == 1
    await rep.aclose()
