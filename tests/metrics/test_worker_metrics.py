"""The worker metrics port: the Temporal SDK's metrics and Conveyor's gauges after an order."""

import asyncio
import time

import httpx
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from conveyor.core.settings import Settings
from conveyor.core.temporal import connect
from conveyor.core.temporal_server import free_port
from conveyor.metrics.gauges import metrics_runtime
from tests.utils.api import create_customer, create_product, place_order, wait_for_order


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test's settings with the worker metrics on a free port, counted twice a second."""
    return settings.model_copy(
        update={"worker_metrics_port": free_port(), "worker_metrics_interval_seconds": 0.5}
    )


@pytest_asyncio.fixture
async def temporal_client(settings: Settings) -> Client:
    """A client on a runtime that serves the metrics port (the worker's, as `run_worker` has)."""
    return await connect(settings, runtime=metrics_runtime(settings))


def _values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample by name and labels (the runtime's `service_name` aside)."""
    return {
        (s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "service_name"))): (
            s.value
        )
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def _scrape_until(url: str, done, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            response = await client.get(url)
            assert response.status_code == 200
            text = response.text
            if done(_values(text)):
                return text
            await asyncio.sleep(0.3)
    raise AssertionError(f"metrics never got there; last:\n{text}")


async def test_sdk_metrics_and_business_gauges(
    api: httpx.AsyncClient, worker, settings: Settings
) -> None:
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)], prepaid=True)
    await wait_for_order(api, order["number"], lambda o: o["status"] == "completed")

    url = f"http://127.0.0.1:{settings.worker_metrics_port}/metrics"
    text = await _scrape_until(
        url, lambda v: v.get(("conveyor_orders", (("status", "completed"),)), 0) >= 1
    )
    values = _values(text)
    names = {name for name, _ in values}
    # The SDK's own: workflow and activity task metrics of this worker's task queue.
    assert any(n.startswith("temporal_workflow_task") for n in names), sorted(names)
    assert any(n.startswith("temporal_activity_execution") for n in names), sorted(names)
    assert values[("conveyor_orders", (("status", "completed"),))] == 1
    assert values[("conveyor_orders", (("status", "open"),))] == 0
    for gauge in ("tasks_open", "tasks_overdue", "outbox_pending", "outbound_pending"):
        assert values[(f"conveyor_{gauge}", ())] >= 0
    assert ("conveyor_outbound_deliveries", (("status", "failed"),)) in values
    assert ("conveyor_webhook_deliveries", (("outcome", "processed"),)) in values
