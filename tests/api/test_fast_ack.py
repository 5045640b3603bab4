"""POST /api/orders is answered once committed; what reaches an order before its start starts it.

Two apps share the database, as two API processes do: one cannot reach Temporal (it takes the
orders, and its starter fails), the other can but starts nothing by itself (no order is placed
through it and its sweep does not run here). So the only way these workflows start is the
cancel, amend or payment that reaches them first.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client

from api.main import create_app
from conveyor.core import temporal_server
from conveyor.core.settings import Settings
from conveyor.core.temporal import order_workflow_id
from conveyor.order import flows as order_flows
from conveyor.order.models import SalesOrder
from tests.conftest import ADMIN_TOKEN
from tests.utils.api import create_customer, create_product, wait_for_order
from workflows.types import SalesOrderNames


@asynccontextmanager
async def app_without_temporal(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app pointed at a port where nothing listens."""
    down = settings.model_copy(
        update={"temporal_address": f"127.0.0.1:{temporal_server.free_port()}"}
    )
    app = create_app(down)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://conveyor.test",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=60,
        ) as client:
            yield client
    finally:
        await app.state.conveyor.stop_starter()
        app.state.conveyor.engine.dispose()


def _started(engine: Engine, numbers: list[str]) -> list[bool]:
    with Session(engine) as session:
        query = select(SalesOrder).where(col(SalesOrder.number).in_(numbers))
        return [row.workflow_started for row in session.exec(query)]


async def test_orders_answered_without_temporal_then_started_by_what_reaches_them(
    api: httpx.AsyncClient, worker, engine: Engine, temporal_client: Client, settings: Settings
) -> None:
    product = await create_product(api, on_hand=20, price="5.00")
    other = await create_product(api, on_hand=20, price="2.00")
    customer = await create_customer(api)
    line = {"sku": product["sku"], "qty": 2}
    async with app_without_temporal(settings) as intake:
        placed = []
        for _ in range(3):
            response = await intake.post(
                "/api/orders", json={"customer_id": customer["id"], "lines": [line]}
            )
            assert response.status_code == 201, response.text
            placed.append(response.json())
        for order in placed:  # the answer is the recorded order, as before
            assert (order["status"], order["current_step"]) == ("open", None)
            assert [(ln["sku"], ln["qty"]) for ln in order["lines"]] == [(product["sku"], 2)]
            assert order["totals"]["total"] == "10.00"
            read = (await intake.get(f"/api/orders/{order['number']}")).json()
            assert {k: read[k] for k in ("status", "current_step", "lines", "totals")} == {
                k: order[k] for k in ("status", "current_step", "lines", "totals")
            }
    cancelled, amended, paid = (order["number"] for order in placed)
    assert _started(engine, [cancelled, amended, paid]) == [False] * 3

    response = await api.post(f"/api/orders/{cancelled}/cancel?reason=changed+mind")
    assert response.status_code == 200, response.text
    await wait_for_order(api, cancelled, lambda o: o["status"] == "cancelled")

    response = await api.post(
        f"/api/orders/{amended}/amend",
        json={"lines": [{"sku": product["sku"], "qty": 1}, {"sku": other["sku"], "qty": 3}]},
    )
    assert response.status_code == 200, response.text
    order = await wait_for_order(api, amended, lambda o: o["current_step"] == "collection")
    assert order["totals"]["total"] == "11.00"
    assert sorted((ln["sku"], ln["qty"]) for ln in order["lines"]) == sorted(
        [(product["sku"], 1), (other["sku"], 3)]
    )

    response = await api.post(f"/api/orders/{paid}/payments", json={"amount": "10.00"})
    assert response.status_code == 201, response.text
    order = await wait_for_order(api, paid, lambda o: o["status"] == "completed")
    assert order["totals"]["paid"] == "10.00" and order["totals"]["balance"] == "0.00"

    assert _started(engine, [cancelled, amended, paid]) == [True] * 3
    for number in (cancelled, amended, paid):
        description = await temporal_client.get_workflow_handle(
            order_workflow_id(number)
        ).describe()
        assert description.workflow_type == SalesOrderNames.WORKFLOW
    stock = (await api.get(f"/api/inventory/{product['sku']}")).json()
    assert (stock["on_hand"], stock["committed"]) == (20 - 1 - 2, 0)


async def test_the_sweep_starts_a_whole_backlog_in_batches(
    api: httpx.AsyncClient,
    engine: Engine,
    temporal_client: Client,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(order_flows, "PENDING_BATCH", 2)  # 5 orders: three batches
    product = await create_product(api, on_hand=20)
    customer = await create_customer(api)
    async with app_without_temporal(settings) as intake:  # as if the API died before starting
        numbers = []
        for _ in range(5):
            response = await intake.post(
                "/api/orders",
                json={"customer_id": customer["id"], "lines": [{"sku": product["sku"], "qty": 1}]},
            )
            assert response.status_code == 201, response.text
            numbers.append(response.json()["number"])
    assert _started(engine, numbers) == [False] * 5

    app = create_app(settings)  # the next API process, at startup
    state = app.state.conveyor
    state._client = temporal_client
    try:
        assert await order_flows.start_pending_workflows(state, older_than_seconds=0) == 5
        assert await order_flows.start_pending_workflows(state, older_than_seconds=0) == 0
    finally:
        state.engine.dispose()
    assert _started(engine, numbers) == [True] * 5
    for number in numbers:
        handle = temporal_client.get_workflow_handle(order_workflow_id(number))
        assert (await handle.describe()).workflow_type == SalesOrderNames.WORKFLOW
