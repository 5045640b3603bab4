"""Amend lines before allocation (re-priced, audited, the customer told); refused afterwards."""

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.conftest import RULES, Mailbox
from tests.utils.api import create_customer, create_product, place_order, wait_for_order


@pytest.fixture
def rules_dir() -> Path:
    """Orders stop at picking."""
    return RULES / "picking_task"


async def test_amend_a_backordered_order_then_refused_after_allocation(
    api: httpx.AsyncClient, worker, mailbox: Mailbox
) -> None:
    product = await create_product(api, on_hand=3, price="5.00")
    other = await create_product(api, on_hand=3, price="2.00")
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 5)])
    number = order["number"]
    await wait_for_order(api, number, lambda o: o["status"] == "backordered")

    bad = await api.post(f"/api/orders/{number}/amend", json={"lines": [{"sku": "NOPE", "qty": 1}]})
    assert bad.status_code == 422
    amended = await api.post(
        f"/api/orders/{number}/amend",
        json={"lines": [{"sku": product["sku"], "qty": 2}, {"sku": other["sku"], "qty": 1}]},
    )
    assert amended.status_code == 200, amended.text
    assert amended.json()["total"] == "12.00"
    audit = next(e for e in amended.json()["events"] if e["kind"] == "amended")
    assert "5 x" in audit["message"] and "25.00" in audit["message"] and "12.00" in audit["message"]
    assert audit["actor"] == "admin token"  # the bootstrap token, recorded as such

    at_picking = await wait_for_order(api, number, lambda o: o["current_step"] == "picking")
    assert at_picking["status"] == "open"
    stock = (await api.get(f"/api/inventory/{product['sku']}")).json()
    assert stock["committed"] == 2
    late = await api.post(
        f"/api/orders/{number}/amend", json={"lines": [{"sku": product["sku"], "qty": 1}]}
    )
    assert late.status_code == 409
    assert "picking" in late.json()["detail"]

    for _ in range(100):
        changed = [m for m in mailbox.to(customer["email"]) if "changed" in m["Subject"]]
        if changed:
            break
        await asyncio.sleep(0.1)
    assert [m["Subject"] for m in changed] == [f"Order {number} changed"]
    assert "Total: 12.00 USD" in changed[0].get_body(("plain",)).get_content()


async def test_cancel_tells_the_customer(api: httpx.AsyncClient, worker, mailbox: Mailbox) -> None:
    product = await create_product(api, on_hand=3, price="5.00")
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)])
    await wait_for_order(api, order["number"], lambda o: o["current_step"] == "picking")
    assert (await api.post(f"/api/orders/{order['number']}/cancel")).status_code == 200
    for _ in range(100):
        cancelled = [m for m in mailbox.to(customer["email"]) if "cancelled" in m["Subject"]]
        if cancelled:
            break
        await asyncio.sleep(0.1)
    assert [m["Subject"] for m in cancelled] == [f"Order {order['number']} cancelled"]
