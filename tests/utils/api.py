"""Test helpers that create data through the HTTP API and wait for orders."""

import asyncio
import time
import uuid
from typing import Any

import httpx


async def create_product(
    api: httpx.AsyncClient,
    *,
    on_hand: int = 10,
    price: str = "10.00",
    sku: str | None = None,
    **extra: Any,
) -> dict:
    """POST /api/products with a unique SKU."""
    body = {
        "sku": sku or f"SKU-{uuid.uuid4().hex[:8]}",
        "price": price,
        "on_hand": on_hand,
        "name": "Test product",
        **extra,
    }
    response = await api.post("/api/products", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def create_customer(api: httpx.AsyncClient, **extra: Any) -> dict:
    """POST /api/customers with a unique e-mail."""
    body = {"name": "Test Customer", "email": f"c-{uuid.uuid4().hex[:8]}@example.com", **extra}
    response = await api.post("/api/customers", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def create_employee(api: httpx.AsyncClient, roles: list[str], clearance: int = 2) -> dict:
    """POST /api/employees; the answer carries the token."""
    body = {
        "name": "Test Employee",
        "email": f"e-{uuid.uuid4().hex[:8]}@example.com",
        "roles": roles,
        "clearance": clearance,
    }
    response = await api.post("/api/employees", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def auth(employee: dict) -> dict[str, str]:
    """Headers that authenticate as this employee."""
    return {"Authorization": f"Bearer {employee['token']}"}


async def place_order(
    api: httpx.AsyncClient, customer_id: int, lines: list[tuple[str, int]], **extra: Any
) -> dict:
    """POST /api/orders and return the created order."""
    body = {"customer_id": customer_id, "lines": [{"sku": s, "qty": q} for s, q in lines], **extra}
    response = await api.post("/api/orders", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def place_prepaid_web_order(
    api: httpx.AsyncClient, customer_id: int, sku: str, qty: int = 1
) -> str:
    """POST /api/orders: a prepaid web order of one line, with an Idempotency-Key; its number."""
    response = await api.post(
        "/api/orders",
        json={
            "customer_id": customer_id,
            "prepaid": True,
            "channel": "web",
            "lines": [{"sku": sku, "qty": qty}],
        },
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "open"
    return response.json()["number"]


async def wait_for_order(
    api: httpx.AsyncClient,
    number: str,
    predicate,
    timeout: float = 60.0,
) -> dict:
    """Poll GET /api/orders/{number} until `predicate(order)` holds."""
    deadline = time.monotonic() + timeout
    order: dict = {}
    while time.monotonic() < deadline:
        response = await api.get(f"/api/orders/{number}")
        assert response.status_code == 200, response.text
        order = response.json()
        if predicate(order):
            return order
        await asyncio.sleep(0.2)
    raise AssertionError(f"order {number} did not get there in {timeout}s; last: {order}")


async def wait_for_open_task(
    api: httpx.AsyncClient, number: str, step: str, timeout: float = 60.0
) -> dict:
    """Wait until the order has an open task for `step`; return it."""
    order = await wait_for_order(
        api,
        number,
        lambda o: (
            any(t["step"] == step and t["status"] == "open" for t in o["tasks"])
            and o["current_step"] == step
        ),
        timeout,
    )
    return next(t for t in order["tasks"] if t["step"] == step and t["status"] == "open")
