"""Partial fulfilment: ship what is in stock, backorder the rest, two invoices that add up."""

from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.conftest import RULES
from tests.utils.api import (
    create_customer,
    create_product,
    place_order,
    wait_for_open_task,
    wait_for_order,
)


@pytest.fixture
def rules_dir() -> Path:
    """Picking is a task for the warehouse (it repeats per shipment); the rest automatic."""
    return RULES / "picking_task"


async def _post(api: httpx.AsyncClient, path: str, body: dict) -> dict:
    response = await api.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.parametrize("rules_dir", [RULES / "b2b_quote"])
async def test_quote_partial_shipment_backorder_two_invoices_then_paid(
    api: httpx.AsyncClient, worker, rules_dir: Path
) -> None:
    """The B2B path end to end: quote, acceptance, a partial shipment, the backorder, two
    invoices that add up to the cent, a partial then a full payment."""
    customer = await create_customer(api, group="wholesale", country="DE", credit_limit="10000")
    tools = await create_product(api, on_hand=4, price="12.00")
    cable = await create_product(api, on_hand=50, price="3.33")
    await _post(
        api,
        "/api/price-agreements",
        {
            "name": "Wholesale 8+",
            "customer_group": "wholesale",
            "sku": tools["sku"],
            "min_qty": 8,
            "unit_price": "9.99",
        },
    )
    await _post(api, "/api/tax-rates", {"tax_class": "standard", "country": "DE", "rate": "19"})
    await _post(api, "/api/shipping-rates", {"name": "DE", "country": "DE", "amount": "6.90"})
    order = await place_order(
        api,
        customer["id"],
        [(tools["sku"], 10), (cable["sku"], 7)],
        allow_partial=True,
    )
    number = order["number"]
    assert order["allow_partial"] is True
    quote = await wait_for_open_task(api, number, "quote")
    assert (await api.get(f"/api/orders/{number}")).json()["status"] == "quote"
    accepted = await api.post(f"/api/tasks/{quote['id']}/complete", json={"outcome": "approved"})
    assert accepted.status_code == 200, accepted.text
    # 10 x 9.99 (quantity break) + 7 x 3.33 + 6.90 shipping, each taxed 19 %, rounded per line
    assert Decimal(order["total"]) == Decimal("154.83")

    task = await wait_for_open_task(api, number, "picking")
    assert (await api.post(f"/api/tasks/{task['id']}/complete", json={})).status_code == 200
    waiting = await wait_for_order(api, number, lambda o: o["status"] == "backordered")
    assert waiting["totals"]["invoiced"] != "0.00"  # shipment 1 is invoiced already
    stock = (await api.get(f"/api/inventory/{tools['sku']}")).json()
    assert (stock["on_hand"], stock["committed"]) == (0, 0)
    cancel = await api.post(f"/api/orders/{number}/cancel")
    assert cancel.status_code == 409 and "shipped" in cancel.json()["detail"]

    received = await api.post(f"/api/inventory/{tools['sku']}/receive", json={"qty": 10})
    assert received.status_code == 200, received.text
    second_task = await wait_for_open_task(api, number, "picking")
    assert second_task["id"] != task["id"]
    done = await api.post(f"/api/tasks/{second_task['id']}/complete", json={})
    assert done.status_code == 200
    at_collection = await wait_for_order(api, number, lambda o: o["current_step"] == "collection")

    invoices = (await api.get("/api/invoices", params={"order": number})).json()
    assert len(invoices) == 2
    first, second = invoices
    assert [(ln["sku"], ln["qty"]) for ln in first["lines"] if ln["kind"] == "item"] == sorted(
        [(tools["sku"], 4), (cable["sku"], 7)]
    )
    assert [ln["kind"] for ln in first["lines"]].count("shipping") == 1
    assert [(ln["sku"], ln["qty"]) for ln in second["lines"]] == [(tools["sku"], 6)]
    assert "shipping" not in [ln["kind"] for ln in second["lines"]]
    total = Decimal(first["total"]) + Decimal(second["total"])
    assert total == Decimal(order["total"])  # to the cent
    for invoice in invoices:
        parts = Decimal(invoice["subtotal"]) + Decimal(invoice["charges"]) + Decimal(invoice["tax"])
        assert parts == Decimal(invoice["total"])
    assert at_collection["totals"]["invoiced"] == order["total"]
    assert (await api.get(f"/api/inventory/{tools['sku']}")).json()["on_hand"] == 4

    half = await api.post(f"/api/orders/{number}/payments", json={"amount": "100.00"})
    assert half.status_code == 201
    rest = Decimal(order["total"]) - Decimal("100.00")
    paid = await api.post(f"/api/orders/{number}/payments", json={"amount": str(rest)})
    assert paid.status_code == 201
    final = await wait_for_order(api, number, lambda o: o["status"] == "completed")
    kinds = [e["kind"] for e in final["events"]]
    assert kinds.index("quote_accepted") < kinds.index("allocated")
    assert kinds.count("packed") == 2 and kinds.count("invoiced") == 2
    assert kinds.index("backordered") > kinds.index("invoiced")


async def test_partial_order_with_everything_in_stock_ships_once(
    api: httpx.AsyncClient, worker
) -> None:
    product = await create_product(api, on_hand=5, price="2.00")
    customer = await create_customer(api)
    order = await place_order(
        api, customer["id"], [(product["sku"], 5)], allow_partial=True, prepaid=True
    )
    task = await wait_for_open_task(api, order["number"], "picking")
    assert (await api.post(f"/api/tasks/{task['id']}/complete", json={})).status_code == 200
    final = await wait_for_order(api, order["number"], lambda o: o["status"] == "completed")
    assert [e["kind"] for e in final["events"]].count("invoiced") == 1
    assert final["totals"]["paid"] == "10.00"
