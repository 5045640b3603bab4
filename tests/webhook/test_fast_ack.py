"""Store webhooks are answered once committed; workflows start off the request path, exactly once.

The API runs as a real `conveyor api` process (as in production), so it can be killed with
SIGKILL and started again; the worker runs in the test on the same task queue.
"""

import asyncio
import contextlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client

from conveyor.core import temporal_server
from conveyor.core.settings import Settings
from conveyor.core.temporal import connect, order_workflow_id
from conveyor.inventory.models import StockMovement
from conveyor.invoice.models import Invoice, Payment
from conveyor.order.models import OrderEvent, SalesOrder
from tests.utils.api import (
    create_customer,
    create_product,
    place_prepaid_web_order,
    wait_for_order,
)
from tests.utils.processes import running_api
from tests.webhook.conftest import post_shopify, shopify_order
from worker import build_worker
from workflows.types import SalesOrderNames

SKUS = ("SKU2006-001", "SKU2006-020", "SKU2006-035")


def _dead_temporal(settings: Settings) -> Settings:
    """The same settings with Temporal at a port where nothing listens."""
    return settings.model_copy(
        update={"temporal_address": f"127.0.0.1:{temporal_server.free_port()}"}
    )


def _started(engine: Engine, numbers: list[str]) -> dict[str, bool]:
    with Session(engine) as session:
        rows = session.exec(select(SalesOrder).where(col(SalesOrder.number).in_(numbers))).all()
        return {row.number or "": row.workflow_started for row in rows}


def _events(engine: Engine, number: str, kind: str) -> list[OrderEvent]:
    with Session(engine) as session:
        order = session.exec(select(SalesOrder).where(SalesOrder.number == number)).one()
        return list(
            session.exec(
                select(OrderEvent)
                .where(OrderEvent.order_id == order.id)
                .where(OrderEvent.kind == kind)
            )
        )


async def _one_workflow(client: Client, number: str) -> None:
    """The order has exactly one workflow run, of the type new orders get."""
    workflow_id = order_workflow_id(number)
    description = await client.get_workflow_handle(workflow_id).describe()
    assert description.workflow_type == SalesOrderNames.WORKFLOW
    deadline = time.monotonic() + 30
    count = 0
    while time.monotonic() < deadline:  # visibility lags the start a little
        count = (await client.count_workflows(f'WorkflowId = "{workflow_id}"')).count
        if count:
            break
        await asyncio.sleep(0.2)
    assert count == 1, (number, count)


async def _catalogue(api: httpx.AsyncClient) -> None:
    for sku in SKUS:
        await create_product(api, sku=sku, on_hand=50)


async def test_store_order_answered_while_temporal_is_down_starts_when_it_is_back(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    down = _dead_temporal(settings)
    async with running_api(down, tmp_path / "api.log") as (_, api):
        await _catalogue(api)
        started = time.perf_counter()
        response = await post_shopify(api, shopify_order())
        seconds = time.perf_counter() - started
        assert response.status_code == 200, response.text
        assert response.json()["outcome"] == "processed"
        assert seconds < 2.0, seconds  # nothing on the request path waits for Temporal
        number = response.json()["order_number"]
        order = (await api.get(f"/api/orders/{number}")).json()
        assert (order["status"], order["current_step"]) == ("open", None)  # the recorded state
        assert [e["kind"] for e in order["events"]] == ["received"]
        assert _started(engine, [number]) == {number: False}

        # Temporal comes back at the address the API uses; the API's sweep starts the order.
        port = int(down.temporal_address.rsplit(":", 1)[1])
        server = temporal_server.start_dev_server(port=port)
        try:
            client = await connect(down)
            async with build_worker(client, engine, down):
                order = await wait_for_order(
                    api, number, lambda o: o["current_step"] == "collection", timeout=90
                )
                await _one_workflow(client, number)
        finally:
            temporal_server.stop(server)
    assert _started(engine, [number]) == {number: True}
    assert len(_events(engine, number, "received")) == 1
    steps = [e.step for e in _events(engine, number, "step_completed")]
    assert steps and len(steps) == len(set(steps)), steps


@contextmanager
def hanging_temporal() -> Iterator[str]:
    """An address that accepts connections and never answers (a Temporal that hangs)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                held.append(listener.accept()[0])

    threading.Thread(target=accept, name="hanging-temporal", daemon=True).start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        for connection in held:
            connection.close()


async def test_answers_do_not_wait_for_a_hanging_temporal(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    # Connecting to it takes 30 s to fail: an answer that waited for the start would show it.
    with hanging_temporal() as address:
        hanging = settings.model_copy(update={"temporal_address": address})
        async with running_api(hanging, tmp_path / "api.log") as (_, api):
            await _catalogue(api)
            customer = await create_customer(api)
            started = time.perf_counter()
            store = await post_shopify(api, shopify_order())
            placed = await api.post(
                "/api/orders",
                json={"customer_id": customer["id"], "lines": [{"sku": SKUS[0], "qty": 1}]},
            )
            seconds = time.perf_counter() - started
            assert store.status_code == 200 and store.json()["outcome"] == "processed"
            assert placed.status_code == 201, placed.text
            assert (placed.json()["status"], placed.json()["current_step"]) == ("open", None)
            assert seconds < 3.0, seconds
            numbers = [store.json()["order_number"], placed.json()["number"]]
            assert set(_started(engine, numbers).values()) == {False}


async def test_api_killed_between_commit_and_start_loses_nothing(
    settings: Settings, engine: Engine, temporal_client: Client, worker, tmp_path: Path
) -> None:
    # 1. An API that cannot reach Temporal records orders and dies (SIGKILL) before any start.
    async with running_api(_dead_temporal(settings), tmp_path / "api-1.log") as (first, api):
        await _catalogue(api)
        product = await create_product(api, on_hand=100, price="3.00")
        customer = await create_customer(api)
        numbers = [
            await place_prepaid_web_order(api, customer["id"], product["sku"], 2) for _ in range(3)
        ]
        store = await post_shopify(api, shopify_order())
        assert store.status_code == 200, store.text
        store_number = store.json()["order_number"]
        first.kill()
    assert set(_started(engine, [*numbers, store_number]).values()) == {False}

    # 2. An API that reaches Temporal takes a burst and is killed as soon as it answered.
    async with running_api(settings, tmp_path / "api-2.log") as (second, api):
        burst = await asyncio.gather(
            *(place_prepaid_web_order(api, customer["id"], product["sku"], 2) for _ in range(15))
        )
        second.kill()
    numbers += burst

    # 3. The next API process starts what is pending; every order runs, and runs once.
    async with running_api(settings, tmp_path / "api-3.log") as (_, api):
        for number in numbers:
            await wait_for_order(api, number, lambda o: o["status"] == "completed", timeout=180)
        await wait_for_order(api, store_number, lambda o: o["current_step"] == "collection")
        stock = (await api.get(f"/api/inventory/{product['sku']}")).json()
        assert (stock["on_hand"], stock["committed"]) == (100 - 2 * len(numbers), 0)
        # An order the killed API started but did not mark may run to the end before this
        # API's sweep (orders older than a few seconds) finds it and marks it started.
        deadline = time.monotonic() + 60
        while set(_started(engine, [*numbers, store_number]).values()) != {True}:
            assert time.monotonic() < deadline, _started(engine, [*numbers, store_number])
            await asyncio.sleep(0.5)
    for number in [*numbers, store_number]:
        await _one_workflow(temporal_client, number)
        steps = [e.step for e in _events(engine, number, "step_completed")]
        assert len(steps) == len(set(steps)), (number, steps)
    with Session(engine) as session:
        ids = session.exec(select(SalesOrder.id).where(col(SalesOrder.number).in_(numbers))).all()
        invoices = session.exec(select(Invoice.order_id).where(col(Invoice.order_id).in_(ids)))
        payments = session.exec(select(Payment.order_id).where(col(Payment.order_id).in_(ids)))
        assert sorted(invoices.all()) == sorted(payments.all()) == sorted(ids)
        packed = session.exec(
            select(StockMovement.order_number).where(StockMovement.kind == "pack")
        ).all()
        # Packed once per line: one line per prepaid order, three in the store order.
        assert Counter(packed) == {**dict.fromkeys(numbers, 1), store_number: len(SKUS)}


async def test_same_delivery_five_times_at_once_is_one_order_and_one_workflow(
    settings: Settings, engine: Engine, temporal_client: Client, worker, tmp_path: Path
) -> None:
    async with running_api(settings, tmp_path / "api.log") as (_, api):
        await _catalogue(api)
        order_id = "820982911946155555"
        answers = await asyncio.gather(
            *(post_shopify(api, shopify_order(order_id)) for _ in range(5))
        )
        assert [a.status_code for a in answers] == [200] * 5, [a.text for a in answers]
        assert sorted(a.json()["outcome"] for a in answers) == ["duplicate"] * 4 + ["processed"]
        (number,) = {a.json()["order_number"] for a in answers}
        found = await api.get("/api/orders", params={"external_ref": f"shopify:{order_id}"})
        assert found.json()["count"] == 1
        await wait_for_order(api, number, lambda o: o["current_step"] == "collection")
    await _one_workflow(temporal_client, number)
    assert len(_events(engine, number, "received")) == 1
    steps = [e.step for e in _events(engine, number, "step_completed")]
    assert steps and len(steps) == len(set(steps)), steps
