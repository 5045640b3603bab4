"""Product options (upselling): ordered options become their own priced lines, linked."""

import httpx

from tests.utils.api import create_customer, create_product


async def test_options_become_linked_priced_lines(api: httpx.AsyncClient) -> None:
    printer = await create_product(api, price="229.00", name="Laser printer")
    monitor = await create_product(api, price="349.90", name="Monitor")
    laptop = await create_product(
        api, price="1199.00", name="Laptop", options=[printer["sku"], monitor["sku"]]
    )
    assert laptop["options"] == [printer["sku"], monitor["sku"]]
    offered = (await api.get(f"/api/products/{laptop['sku']}/options")).json()
    assert [(p["sku"], p["price"]) for p in offered] == [
        (printer["sku"], "229.00"),
        (monitor["sku"], "349.90"),
    ]
    customer = await create_customer(api)

    placed = await api.post(
        "/api/orders",
        json={
            "customer_id": customer["id"],
            "lines": [
                {
                    "sku": laptop["sku"],
                    "qty": 2,
                    "options": [{"sku": printer["sku"]}, {"sku": monitor["sku"], "qty": 4}],
                }
            ],
        },
    )
    assert placed.status_code == 201, placed.text
    order = placed.json()
    lines = {line["sku"]: line for line in order["lines"]}
    main = lines[laptop["sku"]]
    assert main["parent_line_id"] is None
    assert (lines[printer["sku"]]["qty"], lines[printer["sku"]]["line_total"]) == (2, "458.00")
    assert (lines[monitor["sku"]]["qty"], lines[monitor["sku"]]["line_total"]) == (4, "1399.60")
    for option in (printer, monitor):
        assert lines[option["sku"]]["parent_line_id"] == main["id"]
    assert order["total"] == "4255.60"  # 2398.00 + 458.00 + 1399.60


async def test_refused_options(api: httpx.AsyncClient) -> None:
    mouse = await create_product(api, price="20.00")
    laptop = await create_product(api, price="999.00")
    customer = await create_customer(api)
    body = {
        "customer_id": customer["id"],
        "lines": [{"sku": laptop["sku"], "qty": 1, "options": [{"sku": mouse["sku"]}]}],
    }
    refused = await api.post("/api/orders", json=body)
    assert refused.status_code == 422
    assert refused.json()["detail"] == f"{mouse['sku']} is not an option of {laptop['sku']}"
    assert (await api.get("/api/orders", params={"customer_id": customer["id"]})).json()[
        "count"
    ] == 0
    unknown = await api.post(
        "/api/products",
        json={"name": "Item", "sku": "BUNDLE-1", "price": "1.00", "options": ["NOPE"]},
    )
    assert unknown.status_code == 422 and "NOPE" in unknown.json()["detail"]
    assert (await api.get("/api/products/NOPE/options")).status_code == 404
