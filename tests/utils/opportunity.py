"""Test helpers that create opportunities and their quotes through the HTTP API."""

from typing import Any

import httpx

from tests.utils.api import place_order


async def create_opportunity(
    api: httpx.AsyncClient, customer_id: int, *, headers: dict[str, str] | None = None, **extra: Any
) -> dict:
    """POST /api/opportunities (title "Deal", value 1000.00 unless given)."""
    body = {"customer_id": customer_id, "title": "Deal", "value": "1000.00", **extra}
    response = await api.post("/api/opportunities", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def place_quote(
    api: httpx.AsyncClient, opportunity: dict, lines: list[tuple[str, int]]
) -> dict:
    """An explicit quote for the opportunity's customer, carrying the opportunity's number."""
    return await place_order(
        api, opportunity["customer_id"], lines, quote=True, opportunity=opportunity["number"]
    )
