"""Stock moves, adjustments and the stock list over HTTP, on SQLite and PostgreSQL."""

import asyncio

import httpx

from tests.utils.api import create_product


async def _warehouse(api: httpx.AsyncClient, code: str) -> None:
    answer = await api.post("/api/warehouses", json={"code": code, "name": code})
    assert answer.status_code == 201, answer.text


async def test_concurrent_moves_that_would_go_negative_one_wins(api: httpx.AsyncClient) -> None:
    product = await create_product(api, on_hand=10)
    await _warehouse(api, "EAST")
    body = {"from_warehouse": "MAIN", "to_warehouse": "EAST", "qty": 6}
    url = f"/api/inventory/{product['sku']}/move"
    answers = await asyncio.gather(api.post(url, json=body), api.post(url, json=body))
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    level = (await api.get(f"/api/inventory/{product['sku']}")).json()
    by_warehouse = {w["warehouse"]: w["on_hand"] for w in level["warehouses"]}
    assert by_warehouse == {"MAIN": 4, "EAST": 6} and level["on_hand"] == 10


async def test_adjust_needs_a_reason_and_never_goes_negative(api: httpx.AsyncClient) -> None:
    product = await create_product(api, on_hand=3)
    url = f"/api/inventory/{product['sku']}/adjust"
    assert (await api.post(url, json={"warehouse": "MAIN", "qty": -1})).status_code == 422
    too_many = await api.post(url, json={"warehouse": "MAIN", "qty": -4, "reason": "damage"})
    assert too_many.status_code == 409, too_many.text
    done = await api.post(url, json={"warehouse": "MAIN", "qty": -2, "reason": "damage"})
    assert done.status_code == 200 and done.json()["on_hand"] == 1
    listed = await api.get("/api/inventory", params={"q": product["sku"], "low": "true"})
    assert listed.status_code == 200, listed.text
    rows = listed.json()["data"]
    assert [(r["warehouse"], r["on_hand"], r["low"]) for r in rows] == [("MAIN", 1, True)]
