"""Amend lines before allocation (re-priced, audited); refused afterwards."""

from pathlib import Path

import httpx
import pytest

from tests.conftest import RULES
from tests.utils.api import create_customer, create_product, place_order, wait_for_order


@pytest.fixture
def rules_dir() -> Path:
    """Orders stop at picking."""
    return RULES / "picking_task"


async def test_amend_a_backordered_order_then_refused_after_allocation(
    api: httpx.AsyncClient, worker
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
    assert audit["actor"] == "admin"

    at_picking = await wait_for_order(api, number, lambda o: o["current_step"] == "picking")
    assert at_picking["status"] == "open"
    stock = (await api.get(f"/api/inventory/{product['sku']}")).json()
    assert stock["committed"] == 2
    late = await api.post(
        f"/api/orders/{number}/amend", json={"lines": [{"sku": product["sku"], "qty": 1}]}
    )
    assert late.status_code == 409
    assert "picking" in late.json()["detail"]
