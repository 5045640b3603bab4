"""A delivery SLA (`delivery: {mode: auto, sla: 3s}`): a shipment not delivered within it is
late; the order desk gets one task to chase the carrier (a later look at the same shipment
creates none), the monitor lists the shipment as late, and the order completes once the
shipment is delivered."""

import asyncio
import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, RULES
from tests.utils.api import (
    create_customer,
    create_product,
    place_order,
    wait_for_open_task,
    wait_for_order,
)
from tests.utils.pages import staff_client


@pytest.fixture
def rules_dir() -> Path:
    return RULES / "delivery_sla"


def _delivery_tasks(order: dict) -> list[dict]:
    return [t for t in order["tasks"] if t["step"] == "delivery"]


async def test_a_shipment_past_the_delivery_sla_gets_one_chase_task(
    api: httpx.AsyncClient, worker
) -> None:
    product = await create_product(api, on_hand=3, price="9.00")
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 3)], prepaid=True)
    number = order["number"]
    await wait_for_order(api, number, lambda o: o["current_step"] == "delivery")

    task = await wait_for_open_task(api, number, "delivery", timeout=60)
    assert task["role"] == "order_desk"
    staff = await staff_client(api, ADMIN_TOKEN)
    monitor = await staff.get("/monitor")
    row = re.search(
        rf'<tr data-testid="shipment" data-shipment="1" data-status="shipped" data-late="true">'
        rf'\s*<td><a href="/orders/{number}">',
        monitor.text,
    )
    assert row is not None, "the monitor lists the late shipment"
    trail = (await api.get(f"/api/orders/{number}")).json()
    assert "chase the carrier" in str(trail)

    done = await api.post(f"/api/tasks/{task['id']}/complete", json={"note": "carrier chased"})
    assert done.status_code == 200, done.text
    await asyncio.sleep(4)  # past the SLA again: still the one task
    later = (await api.get(f"/api/orders/{number}")).json()
    assert [t["id"] for t in _delivery_tasks(later)] == [task["id"]]
    assert later["status"] != "completed"

    delivered = await api.post(f"/api/orders/{number}/shipments/1/delivered", json={})
    assert delivered.status_code == 200, delivered.text
    final = await wait_for_order(api, number, lambda o: o["status"] == "completed")
    assert [t["id"] for t in _delivery_tasks(final)] == [task["id"]]
    await staff.aclose()
