"""300 web orders at once, two worker processes, three people on duty: 100 tasks each."""

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from conveyor.core.settings import Settings
from conveyor.task.models import Task
from tests.conftest import RULES
from tests.utils.api import auth, create_customer, create_employee, create_product
from tests.utils.processes import start_worker, stop

ORDERS = 300


@pytest.fixture
def rules_dir() -> Path:
    """Web orders: an order_desk task at allocation, round-robin."""
    return RULES / "web_round_robin"


async def test_round_robin_is_even_across_worker_processes(
    api: httpx.AsyncClient, settings: Settings, engine
) -> None:
    people = [await create_employee(api, ["order_desk"]) for _ in range(3)]
    for person in people:
        assert (
            await api.post(f"/api/employees/{person['id']}/clock-in", headers=auth(person))
        ).status_code == 200
    off_duty = await create_employee(api, ["order_desk"])
    product = await create_product(api, on_hand=ORDERS)
    customer = await create_customer(api)
    workers = [start_worker(settings), start_worker(settings)]
    try:
        gate = asyncio.Semaphore(50)

        async def order_one() -> None:
            async with gate:
                response = await api.post(
                    "/api/orders",
                    json={
                        "customer_id": customer["id"],
                        "channel": "web",
                        "lines": [{"sku": product["sku"], "qty": 1}],
                    },
                )
                assert response.status_code == 201, response.text

        await asyncio.gather(*(order_one() for _ in range(ORDERS)))
        for _ in range(1200):
            with Session(engine) as session:
                created = session.exec(select(func.count()).select_from(Task)).one()
            if created == ORDERS:
                break
            await asyncio.sleep(0.25)
        assert created == ORDERS
    finally:
        for worker in workers:
            stop(worker)

    with Session(engine) as session:
        per_person = Counter(session.exec(select(Task.assignee_id)).all())
    counts = [per_person[p["id"]] for p in people]
    assert sum(counts) == ORDERS
    assert max(counts) - min(counts) <= 1, counts
    assert per_person[off_duty["id"]] == 0
    mine = (await api.get("/api/tasks?scope=mine&page_size=500", headers=auth(people[0]))).json()
    assert mine["count"] == counts[0]
