"""Kill the worker process (SIGKILL) mid-way: every order still completes exactly once."""

import asyncio
import os
import signal
from pathlib import Path

import httpx
from sqlalchemy import func
from sqlmodel import Session, select

from conveyor.core.settings import Settings
from conveyor.inventory.models import StockMovement
from conveyor.invoice.models import Invoice, Payment
from conveyor.order.models import OrderEvent, SalesOrder
from tests.utils.api import create_customer, create_product, wait_for_order
from tests.utils.processes import start_worker, stop

ROOT = Path(__file__).resolve().parents[2]
ORDERS = 20


async def test_orders_survive_a_killed_worker(
    api: httpx.AsyncClient, settings: Settings, engine
) -> None:
    product = await create_product(api, on_hand=100, price="3.00")
    customer = await create_customer(api)
    numbers = []
    for _ in range(ORDERS):
        response = await api.post(
            "/api/orders",
            json={
                "customer_id": customer["id"],
                "prepaid": True,
                "channel": "web",
                "lines": [{"sku": product["sku"], "qty": 2}],
            },
        )
        assert response.status_code == 201
        numbers.append(response.json()["number"])

    first = start_worker(settings)
    try:
        # Let it get some orders part of the way, then kill it without warning.
        for _ in range(600):
            with Session(engine) as session:
                events = session.exec(select(func.count()).select_from(OrderEvent)).one()
                completed = session.exec(
                    select(func.count())
                    .select_from(SalesOrder)
                    .where(SalesOrder.status == "completed")
                ).one()
            if events >= ORDERS * 3:
                break
            await asyncio.sleep(0.05)
        assert completed < ORDERS, "the worker finished everything before it could be killed"
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    finally:
        if first.poll() is None:
            first.kill()

    second = start_worker(settings)
    try:
        for number in numbers:
            await wait_for_order(api, number, lambda o: o["status"] == "completed", timeout=120)
    finally:
        stop(second)

    stock = (await api.get(f"/api/inventory/{product['sku']}")).json()
    stock.pop("warehouses")
    assert stock == {
        "sku": product["sku"],
        "on_hand": 100 - 2 * ORDERS,
        "committed": 0,
        "available": 100 - 2 * ORDERS,
        "stocked": True,
    }
    with Session(engine) as session:
        for kind in ("commit", "pack"):
            rows = session.exec(
                select(StockMovement.order_number).where(StockMovement.kind == kind)
            ).all()
            assert sorted(rows) == sorted(numbers), kind
        assert session.exec(select(func.count()).select_from(Invoice)).one() == ORDERS
        assert session.exec(select(func.count()).select_from(Payment)).one() == ORDERS
        for number in numbers:
            order = session.exec(select(SalesOrder).where(SalesOrder.number == number)).one()
            steps = session.exec(
                select(OrderEvent.step)
                .where(OrderEvent.order_id == order.id)
                .where(OrderEvent.kind == "step_completed")
            ).all()
            assert len(steps) == len(set(steps)) == 7, (number, steps)
