"""50 orders at once for 10 units: exactly 10 committed, the rest backordered, then resumed."""

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from conveyor.inventory.models import StockMovement
from tests.conftest import RULES
from tests.utils.api import create_customer, create_product


@pytest.fixture
def rules_dir() -> Path:
    """Orders stop at picking, so committed stock stays committed while we count."""
    return RULES / "picking_task"


async def _counts(api: httpx.AsyncClient) -> tuple[int, int]:
    """(orders waiting at picking, backordered orders)."""
    at_picking = await api.get("/api/orders", params={"step": "picking", "status": "open"})
    backordered = await api.get("/api/orders", params={"status": "backordered"})
    return at_picking.json()["count"], backordered.json()["count"]


async def _wait_for_counts(api: httpx.AsyncClient, expected: tuple[int, int]) -> None:
    for _ in range(600):
        if await _counts(api) == expected:
            return
        await asyncio.sleep(0.2)
    assert await _counts(api) == expected


async def test_no_oversell_under_concurrent_orders(api: httpx.AsyncClient, worker, engine) -> None:
    product = await create_product(api, on_hand=10)
    customer = await create_customer(api)
    sku = product["sku"]

    async def order_one() -> str:
        response = await api.post(
            "/api/orders", json={"customer_id": customer["id"], "lines": [{"sku": sku, "qty": 1}]}
        )
        assert response.status_code == 201, response.text
        return response.json()["number"]

    numbers = await asyncio.gather(*(order_one() for _ in range(50)))
    assert len(set(numbers)) == 50
    await _wait_for_counts(api, (10, 40))
    await asyncio.sleep(1)  # settled: nothing changes any more
    assert await _counts(api) == (10, 40)
    stock = (await api.get(f"/api/inventory/{sku}")).json()
    stock.pop("warehouses")
    assert stock == {"sku": sku, "on_hand": 10, "committed": 10, "available": 0, "stocked": True}
    with Session(engine) as session:
        commits = session.exec(
            select(func.sum(StockMovement.qty))
            .where(StockMovement.sku == sku)
            .where(StockMovement.kind == "commit")
        ).one()
    assert commits == 10

    # Goods arrive: exactly five more orders get their stock, the rest keep waiting.
    received = await api.post(f"/api/inventory/{sku}/receive", json={"qty": 5})
    assert received.status_code == 200
    assert received.json()["on_hand"] == 15

    await _wait_for_counts(api, (15, 35))
    await asyncio.sleep(1)  # nobody else may sneak in
    assert await _counts(api) == (15, 35)
    stock = (await api.get(f"/api/inventory/{sku}")).json()
    stock.pop("warehouses")
    assert stock == {"sku": sku, "on_hand": 15, "committed": 15, "available": 0, "stocked": True}
