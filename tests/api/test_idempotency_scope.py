"""Idempotency keys count once per route and entity: the same key for another SKU is another
receipt (issue 12, finding 10)."""

import httpx

from conveyor.core.idempotency import KEY_COLUMN_LENGTH, scoped_key
from tests.utils.api import create_product


async def _on_hand(api: httpx.AsyncClient, sku: str) -> int:
    return (await api.get(f"/api/inventory/{sku}")).json()["on_hand"]


async def test_one_key_counts_once_per_sku(api: httpx.AsyncClient) -> None:
    first = await create_product(api, on_hand=0)
    second = await create_product(api, on_hand=0)
    headers = {"Idempotency-Key": "delivery-note-7781"}
    for sku in (first["sku"], first["sku"], second["sku"]):
        response = await api.post(f"/api/inventory/{sku}/receive", json={"qty": 5}, headers=headers)
        assert response.status_code == 200, response.text
    assert await _on_hand(api, first["sku"]) == 5  # the retry counted once
    assert await _on_hand(api, second["sku"]) == 5  # the same key on another SKU counted too


async def test_a_key_over_the_limit_is_refused(api: httpx.AsyncClient) -> None:
    product = await create_product(api, on_hand=0)
    response = await api.post(
        f"/api/inventory/{product['sku']}/receive",
        json={"qty": 1},
        headers={"Idempotency-Key": "k" * 151},
    )
    assert response.status_code == 422
    assert await _on_hand(api, product["sku"]) == 0


def test_a_long_scoped_key_still_fits_its_column_and_stays_distinct() -> None:
    sku = "S" * 64
    one, other = scoped_key("receipt", sku, "a" * 150), scoped_key("receipt", sku, "b" * 150)
    assert len(one) <= KEY_COLUMN_LENGTH and len(other) <= KEY_COLUMN_LENGTH
    assert one != other and one == scoped_key("receipt", sku, "a" * 150)
    assert scoped_key("payment", "A-1", None) != scoped_key("payment", "A-1", None)
