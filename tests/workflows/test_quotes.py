"""Quotes: the order stays a quote until accepted, and expires by a durable timer."""

from pathlib import Path

import httpx
import pytest

from core.settings import Settings
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
    """The quote step is a task for sales."""
    return RULES / "quote_task"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Quotes valid for three seconds."""
    return settings.model_copy(update={"quote_validity_seconds": 3.0})


async def test_accepted_quote_becomes_the_order(api: httpx.AsyncClient, worker) -> None:
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 2)], prepaid=True)
    task = await wait_for_open_task(api, order["number"], "quote")
    assert (await api.get(f"/api/orders/{order['number']}")).json()["status"] == "quote"
    quotes = (await api.get("/api/orders", params={"status": "quote"})).json()
    assert order["number"] in [o["number"] for o in quotes["data"]]
    accepted = await api.post(f"/api/tasks/{task['id']}/complete", json={"outcome": "approved"})
    assert accepted.status_code == 200
    final = await wait_for_order(api, order["number"], lambda o: o["status"] == "completed")
    kinds = [e["kind"] for e in final["events"]]
    assert kinds.index("quote_sent") < kinds.index("quote_accepted")


async def test_unanswered_quote_expires_and_cancels(api: httpx.AsyncClient, worker) -> None:
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 2)])
    task = await wait_for_open_task(api, order["number"], "quote")
    final = await wait_for_order(
        api, order["number"], lambda o: o["status"] == "cancelled", timeout=30
    )
    assert "expired" in final["events"][-1]["message"]
    assert [t["status"] for t in final["tasks"] if t["id"] == task["id"]] == ["cancelled"]
    late = await api.post(f"/api/tasks/{task['id']}/complete", json={})
    assert late.status_code == 409
