"""Drop-ship per order line: a drop-ship allowable product's line ships from stock or from a
supplier, decided when the order is placed (real Temporal worker, SQLite and PostgreSQL)."""

import asyncio

import httpx

from tests.purchasing.test_purchase_orders import add_price, make_supplier
from tests.utils.api import create_customer, create_product, wait_for_order


async def _place(api: httpx.AsyncClient, customer_id: int, lines: list[dict]) -> httpx.Response:
    return await api.post(
        "/api/orders", json={"customer_id": customer_id, "lines": lines, "channel": "sales_rep"}
    )


async def _purchase_orders(api: httpx.AsyncClient, number: str) -> list[dict]:
    for _ in range(300):
        found = (await api.get("/api/purchase-orders", params={"order": number})).json()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"no purchase order for {number}")


async def _stock(api: httpx.AsyncClient, sku: str) -> tuple[int, int]:
    level = (await api.get(f"/api/inventory/{sku}")).json()
    return level["on_hand"], level["committed"]


async def test_a_line_asked_drop_ship_goes_to_its_supplier_the_other_from_stock(
    api: httpx.AsyncClient, worker
) -> None:
    chair = await create_product(
        api,
        on_hand=5,
        price="80.00",
        drop_ship_allowed=True,
        supplier_email="orders@chairs.example",
        name="Office chair",
    )
    assert chair["drop_ship_allowed"] is True and chair["drop_ship"] is False
    lamp = await create_product(api, on_hand=3, price="20.00")
    customer = await create_customer(api)
    placed = await _place(
        api,
        customer["id"],
        [{"sku": chair["sku"], "qty": 2, "drop_ship": True}, {"sku": lamp["sku"], "qty": 1}],
    )
    assert placed.status_code == 201, placed.text
    number = placed.json()["number"]
    sources = {ln["sku"]: ln["drop_ship"] for ln in placed.json()["lines"]}
    assert sources == {chair["sku"]: True, lamp["sku"]: False}

    (purchase,) = await _purchase_orders(api, number)
    assert purchase["supplier_email"] == "orders@chairs.example"
    assert [(ln["sku"], ln["qty"]) for ln in purchase["lines"]] == [(chair["sku"], 2)]
    # The lamp is allocated, picked and packed; the chairs in stock are left alone.
    await wait_for_order(api, number, lambda o: o["current_step"] == "invoicing")
    assert await _stock(api, lamp["sku"]) == (2, 0)
    assert await _stock(api, chair["sku"]) == (5, 0)
    # The chairs the supplier ships go to the customer: nothing incoming for the stock list.
    (level,) = (await api.get("/api/inventory", params={"q": chair["sku"]})).json()["data"]
    assert level["incoming"] == 0


async def test_without_the_ask_stock_when_it_covers_the_line_else_the_cheapest_supplier(
    api: httpx.AsyncClient, worker
) -> None:
    short = await create_product(api, on_hand=1, price="30.00", drop_ship_allowed=True)
    stocked = await create_product(api, on_hand=4, price="15.00", drop_ship_allowed=True)
    dear, cheap = await make_supplier(api), await make_supplier(api)
    await add_price(api, dear["code"], sku=short["sku"], min_qty=1, unit_price="12.00")
    await add_price(api, cheap["code"], sku=short["sku"], min_qty=1, unit_price="11.00")
    await add_price(api, cheap["code"], sku=short["sku"], min_qty=3, unit_price="10.00")
    await add_price(api, dear["code"], sku=stocked["sku"], min_qty=1, unit_price="1.00")
    customer = await create_customer(api)
    placed = await _place(
        api, customer["id"], [{"sku": short["sku"], "qty": 3}, {"sku": stocked["sku"], "qty": 2}]
    )
    assert placed.status_code == 201, placed.text
    number = placed.json()["number"]
    sources = {ln["sku"]: ln["drop_ship"] for ln in placed.json()["lines"]}
    assert sources == {short["sku"]: True, stocked["sku"]: False}

    (purchase,) = await _purchase_orders(api, number)
    assert purchase["supplier_email"] == cheap["email"]
    assert [(ln["sku"], ln["qty"], ln["unit_price"]) for ln in purchase["lines"]] == [
        (short["sku"], 3, "10.0000")
    ]
    await wait_for_order(api, number, lambda o: o["current_step"] == "invoicing")
    assert await _stock(api, stocked["sku"]) == (2, 0)
    assert await _stock(api, short["sku"]) == (1, 0)


async def test_drop_ship_is_refused_for_a_product_that_ships_from_stock(
    api: httpx.AsyncClient,
) -> None:
    plain = await create_product(api, on_hand=5, price="10.00")
    unsupplied = await create_product(api, on_hand=5, price="10.00", drop_ship_allowed=True)
    customer = await create_customer(api)
    refused = await _place(
        api, customer["id"], [{"sku": plain["sku"], "qty": 1, "drop_ship": True}]
    )
    assert refused.status_code == 422
    assert "not drop-ship allowable" in refused.text
    nobody = await _place(
        api, customer["id"], [{"sku": unsupplied["sku"], "qty": 1, "drop_ship": True}]
    )
    assert nobody.status_code == 422
    assert "no supplier" in nobody.text
    service = await api.post(
        "/api/products",
        json={
            "sku": f"{plain['sku']}-S",
            "name": "Fitting",
            "price": "5.00",
            "kind": "service",
            "drop_ship_allowed": True,
        },
    )
    assert service.status_code == 422
