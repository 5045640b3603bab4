"""Drop-ship lines become purchase orders to the supplier; invoicing waits for its shipment."""

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.conftest import RULES, Mailbox
from tests.utils.api import (
    auth,
    create_customer,
    create_employee,
    create_product,
    place_order,
    wait_for_open_task,
    wait_for_order,
)


async def _purchase_orders(api: httpx.AsyncClient, number: str) -> list[dict]:
    for _ in range(300):
        found = (await api.get("/api/purchase-orders", params={"order": number})).json()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"no purchase order for {number}")


async def test_drop_ship_line_waits_for_the_supplier(
    api: httpx.AsyncClient, worker, mailbox: Mailbox
) -> None:
    desk = await create_product(
        api,
        on_hand=0,
        price="500.00",
        drop_ship=True,
        supplier_email="orders@desks.example",
        name="Standing desk",
    )
    mouse = await create_product(api, on_hand=3, price="20.00")
    customer = await create_customer(api)
    order = await place_order(
        api, customer["id"], [(desk["sku"], 2), (mouse["sku"], 1)], channel="sales_rep"
    )
    number = order["number"]

    (purchase,) = await _purchase_orders(api, number)
    assert (purchase["supplier_email"], purchase["status"]) == ("orders@desks.example", "open")
    assert [(ln["sku"], ln["qty"]) for ln in purchase["lines"]] == [(desk["sku"], 2)]
    for _ in range(100):
        if mailbox.to("orders@desks.example"):
            break
        await asyncio.sleep(0.1)
    (supplier_mail,) = mailbox.to("orders@desks.example")
    assert purchase["number"] in supplier_mail["Subject"]
    assert f"2 x {desk['sku']} Standing desk" in supplier_mail.get_body(("plain",)).get_content()

    # Own stock ships; the desk never touches stock; invoicing waits for the supplier.
    waiting = await wait_for_order(api, number, lambda o: o["current_step"] == "invoicing")
    await asyncio.sleep(1)
    assert (await api.get(f"/api/orders/{number}")).json()["current_step"] == "invoicing"
    assert waiting["totals"]["invoiced"] == "0.00"
    assert (await api.get(f"/api/inventory/{desk['sku']}")).json()["committed"] == 0
    assert (await api.get(f"/api/inventory/{mouse['sku']}")).json()["on_hand"] == 2

    clerk = await create_employee(api, ["order_desk"])
    refused = await api.post(
        f"/api/purchase-orders/{purchase['number']}/shipped", json={}, headers=auth(clerk)
    )
    assert refused.status_code == 403
    keeper = await create_employee(api, ["warehouse"])
    shipped = await api.post(
        f"/api/purchase-orders/{purchase['number']}/shipped",
        json={"tracking": "1Z999"},
        headers=auth(keeper),
    )
    assert shipped.status_code == 200, shipped.text
    assert (shipped.json()["status"], shipped.json()["tracking"]) == ("shipped", "1Z999")
    again = await api.post(f"/api/purchase-orders/{purchase['number']}/shipped", json={})
    assert again.status_code == 200 and again.json()["tracking"] == "1Z999"

    invoiced = await wait_for_order(api, number, lambda o: o["current_step"] == "collection")
    assert invoiced["totals"]["invoiced"] == "1020.00"
    kinds = [e["kind"] for e in invoiced["events"]]
    assert kinds.index("purchase_order") < kinds.index("supplier_shipped") < kinds.index("invoiced")
    assert (await api.post("/api/purchase-orders/PO-999999/shipped", json={})).status_code == 404


@pytest.mark.parametrize("rules_dir", [RULES / "picking_task"])
async def test_cancel_cancels_the_purchase_order(
    api: httpx.AsyncClient, worker, rules_dir: Path
) -> None:
    desk = await create_product(
        api, on_hand=0, price="500.00", drop_ship=True, supplier_email="orders@desks.example"
    )
    mouse = await create_product(api, on_hand=1, price="5.00")
    customer = await create_customer(api)
    order = await place_order(
        api, customer["id"], [(desk["sku"], 1), (mouse["sku"], 1)], channel="sales_rep"
    )
    number = order["number"]
    await wait_for_open_task(api, number, "picking")  # allocated, purchase order sent
    (purchase,) = await _purchase_orders(api, number)
    cancelled = await api.post(f"/api/orders/{number}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    (after,) = (await api.get("/api/purchase-orders", params={"order": number})).json()
    assert after["number"] == purchase["number"] and after["status"] == "cancelled"
    assert (await api.get(f"/api/inventory/{mouse['sku']}")).json()["committed"] == 0
    late = await api.post(f"/api/purchase-orders/{purchase['number']}/shipped", json={})
    assert late.status_code == 409


async def test_drop_ship_products_need_a_supplier(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/products", json={"name": "Item", "sku": "DS-1", "price": "1.00", "drop_ship": True}
    )
    assert response.status_code == 422
    assert "supplier_email" in response.text
