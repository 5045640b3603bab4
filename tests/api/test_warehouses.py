"""Warehouses through the API: receive per warehouse, an order split over two, pick list, cancel."""

import uuid

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from conveyor.inventory.models import StockMovement
from tests.conftest import RULES
from tests.utils.api import (
    auth,
    create_customer,
    create_employee,
    create_product,
    place_order,
    wait_for_open_task,
    wait_for_order,
)


async def _warehouse(api: httpx.AsyncClient) -> str:
    """A new warehouse with a unique code that sorts before MAIN."""
    code = f"E{uuid.uuid4().hex[:6].upper()}"
    response = await api.post("/api/warehouses", json={"code": code.lower(), "name": "East"})
    assert response.status_code == 201, response.text
    assert response.json()["code"] == code  # codes are upper case
    return code


async def _receive(api: httpx.AsyncClient, sku: str, body: dict) -> httpx.Response:
    return await api.post(f"/api/inventory/{sku}/receive", json=body)


def _by_warehouse(stock: dict) -> dict[str, tuple[str, int, int, int]]:
    return {
        w["warehouse"]: (w["location"], w["on_hand"], w["committed"], w["available"])
        for w in stock["warehouses"]
    }


async def test_warehouses_and_receipts_per_warehouse(api: httpx.AsyncClient) -> None:
    east = await _warehouse(api)
    duplicate = await api.post("/api/warehouses", json={"code": east})
    assert duplicate.status_code == 409
    assert (await api.post("/api/warehouses", json={"code": "no spaces"})).status_code == 422
    clerk = await create_employee(api, ["warehouse"])
    refused = await api.post("/api/warehouses", json={"code": "X1"}, headers=auth(clerk))
    assert refused.status_code == 403
    listed = (await api.get("/api/warehouses", headers=auth(clerk))).json()
    assert {"MAIN", east} <= {w["code"] for w in listed}

    product = await create_product(api, on_hand=5, location="A-02")
    sku = product["sku"]
    received = await _receive(api, sku, {"qty": 3, "warehouse": east, "location": "E-09"})
    assert received.status_code == 200, received.text
    body = received.json()
    assert (body["on_hand"], body["committed"], body["available"]) == (8, 0, 8)
    assert _by_warehouse(body) == {"MAIN": ("A-02", 5, 0, 5), east: ("E-09", 3, 0, 3)}
    assert (await _receive(api, sku, {"qty": 1})).json()["on_hand"] == 9  # default: MAIN
    unknown = await _receive(api, sku, {"qty": 1, "warehouse": "NOWHERE"})
    assert unknown.status_code == 422
    assert "NOWHERE" in unknown.json()["detail"]
    assert (await _receive(api, sku, {"qty": 1, "location": "bad bin"})).status_code == 422
    stock = (await api.get(f"/api/inventory/{sku}")).json()
    assert (stock["on_hand"], stock["committed"], stock["available"]) == (9, 0, 9)
    assert _by_warehouse(stock) == {"MAIN": ("A-02", 6, 0, 6), east: ("E-09", 3, 0, 3)}


async def test_order_split_over_two_warehouses_picks_and_packs_in_each(
    api: httpx.AsyncClient, worker, engine: Engine
) -> None:
    east = await _warehouse(api)
    first = await create_product(api, on_hand=2, location="B-01")
    second = await create_product(api, on_hand=5, location="A-03")
    await _receive(api, first["sku"], {"qty": 4, "warehouse": east, "location": "E-02"})
    customer = await create_customer(api)
    order = await place_order(
        api, customer["id"], [(first["sku"], 5), (second["sku"], 1)], prepaid=True
    )
    await wait_for_order(api, order["number"], lambda o: o["status"] == "completed")

    picks = (await api.get(f"/api/pick-lists/{order['number']}")).json()
    assert [(p["warehouse"], p["location"], p["sku"], p["qty"]) for p in picks] == [
        (east, "E-02", first["sku"], 3),  # by warehouse, then bin
        ("MAIN", "A-03", second["sku"], 1),
        ("MAIN", "B-01", first["sku"], 2),
    ]
    assert all(p["staging_location"] is None for p in picks)
    stock = (await api.get(f"/api/inventory/{first['sku']}")).json()
    assert (stock["on_hand"], stock["committed"]) == (1, 0)
    assert _by_warehouse(stock) == {"MAIN": ("B-01", 0, 0, 0), east: ("E-02", 1, 0, 1)}
    with Session(engine) as session:
        packs = session.exec(
            select(StockMovement)
            .where(StockMovement.order_number == order["number"])
            .where(StockMovement.kind == "pack")
        ).all()
    assert sorted((m.sku, m.warehouse, m.qty) for m in packs) == sorted(
        [(first["sku"], "MAIN", 2), (first["sku"], east, 3), (second["sku"], "MAIN", 1)]
    )
    assert (await api.get("/api/pick-lists/NOPE-1")).status_code == 404


@pytest.mark.parametrize("rules_dir", [RULES / "picking_task"])
async def test_cancel_releases_in_each_warehouse(api: httpx.AsyncClient, worker, rules_dir) -> None:
    east = await _warehouse(api)
    product = await create_product(api, on_hand=1)
    await _receive(api, product["sku"], {"qty": 2, "warehouse": east})
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 3)])
    await wait_for_open_task(api, order["number"], "picking")
    stock = (await api.get(f"/api/inventory/{product['sku']}")).json()
    assert stock["committed"] == 3
    assert {w["warehouse"]: w["committed"] for w in stock["warehouses"]} == {"MAIN": 1, east: 2}
    cancelled = await api.post(f"/api/orders/{order['number']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    await wait_for_order(api, order["number"], lambda o: o["status"] == "cancelled")
    for _ in range(100):
        stock = (await api.get(f"/api/inventory/{product['sku']}")).json()
        if stock["committed"] == 0:
            break
    assert {w["warehouse"]: w["committed"] for w in stock["warehouses"]} == {"MAIN": 0, east: 0}
    assert stock["on_hand"] == 3


class TestStaging:
    """With CONVEYOR_STAGING_LOCATION set, picking stages the goods (ledger, pick list, trail)."""

    @pytest.fixture
    def settings(self, settings):
        return settings.model_copy(update={"staging_location": "STAGE-01"})

    async def test_staging_is_recorded(
        self, api: httpx.AsyncClient, worker, engine: Engine
    ) -> None:
        product = await create_product(api, on_hand=4, location="C-01")
        customer = await create_customer(api)
        order = await place_order(api, customer["id"], [(product["sku"], 3)], prepaid=True)
        final = await wait_for_order(api, order["number"], lambda o: o["status"] == "completed")
        picks = (await api.get(f"/api/pick-lists/{order['number']}")).json()
        assert [(p["warehouse"], p["location"], p["staging_location"]) for p in picks] == [
            ("MAIN", "C-01", "STAGE-01")
        ]
        with Session(engine) as session:
            staged = session.exec(
                select(StockMovement)
                .where(StockMovement.order_number == order["number"])
                .where(StockMovement.kind == "stage")
            ).all()
        assert [(m.sku, m.qty, m.warehouse, m.location) for m in staged] == [
            (product["sku"], 3, "MAIN", "STAGE-01")
        ]
        staged_events = [e for e in final["events"] if e["kind"] == "staged"]
        assert len(staged_events) == 1
        assert "STAGE-01" in staged_events[0]["message"]
        stock = (await api.get(f"/api/inventory/{product['sku']}")).json()
        assert (stock["on_hand"], stock["committed"]) == (1, 0)  # staging moved, packing deducted


async def test_an_order_names_the_warehouse_it_ships_from_first(
    api: httpx.AsyncClient, worker
) -> None:
    east = await _warehouse(api)
    product = await create_product(api, on_hand=5)
    await _receive(api, product["sku"], {"qty": 3, "warehouse": east})
    customer = await create_customer(api)
    unknown = await api.post(
        "/api/orders",
        json={
            "customer_id": customer["id"],
            "lines": [{"sku": product["sku"], "qty": 1}],
            "warehouse": "NOWHERE",
        },
    )
    assert unknown.status_code == 422
    order = await place_order(
        api, customer["id"], [(product["sku"], 4)], prepaid=True, warehouse=east.lower()
    )
    assert order["warehouse"] == east
    await wait_for_order(api, order["number"], lambda o: o["status"] == "completed")
    picks = (await api.get(f"/api/pick-lists/{order['number']}")).json()
    assert [(p["warehouse"], p["qty"]) for p in picks] == [(east, 3), ("MAIN", 1)]
    stock = (await api.get(f"/api/inventory/{product['sku']}")).json()
    assert {w["warehouse"]: w["on_hand"] for w in stock["warehouses"]} == {"MAIN": 4, east: 0}
