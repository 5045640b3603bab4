"""End to end: an order placed over HTTP runs through its workflow to `completed`."""

from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from conveyor.inventory.models import StockMovement
from conveyor.invoice.models import Invoice, Payment
from conveyor.order.models import SalesOrder
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

STEPS = ["stock_check", "allocation", "picking", "packing", "invoicing", "collection"]


@pytest.fixture
def rules_dir() -> Path:
    """The default rule set that ships with Conveyor."""
    return Path(__file__).resolve().parents[2] / "routing_rules" / "rules"


async def test_order_with_tasks_runs_to_completed(api: httpx.AsyncClient, worker, engine) -> None:
    product = await create_product(api, on_hand=20, price="12.50")
    customer = await create_customer(api)
    picker = await create_employee(api, ["warehouse"])
    desk = await create_employee(api, ["order_desk"])
    accountant = await create_employee(api, ["accountant"])

    order = await place_order(api, customer["id"], [(product["sku"], 3)], channel="phone")
    number = order["number"]
    assert order["totals"]["total"] == "37.50"
    assert order["lines"][0]["unit_price"] == "12.50"

    picking = await wait_for_open_task(api, number, "picking")
    stock = (await api.get(f"/api/inventory/{product['sku']}")).json()
    stock.pop("warehouses")
    assert stock == {
        "sku": product["sku"],
        "on_hand": 20,
        "committed": 3,
        "available": 17,
        "stocked": True,
    }

    # Someone without the warehouse role may not complete it.
    refused = await api.post(f"/api/tasks/{picking['id']}/complete", json={}, headers=auth(desk))
    assert refused.status_code == 403
    done = await api.post(
        f"/api/tasks/{picking['id']}/complete",
        json={"outcome": "done", "note": "bin A"},
        headers=auth(picker),
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    again = await api.post(f"/api/tasks/{picking['id']}/complete", json={}, headers=auth(picker))
    assert again.status_code == 409

    packing = await wait_for_open_task(api, number, "packing")
    assert (
        await api.post(f"/api/tasks/{packing['id']}/complete", json={}, headers=auth(picker))
    ).status_code == 200

    waiting = await wait_for_order(api, number, lambda o: o["current_step"] == "collection")
    assert waiting["status"] == "open"
    assert waiting["totals"]["invoiced"] == "37.50"
    not_accountant = await api.post(
        f"/api/orders/{number}/payments", json={"amount": "37.50"}, headers=auth(picker)
    )
    assert not_accountant.status_code == 403
    paid = await api.post(
        f"/api/orders/{number}/payments",
        json={"amount": "37.50", "reference": "bank"},
        headers=auth(accountant),
    )
    assert paid.status_code == 201, paid.text

    final = await wait_for_order(api, number, lambda o: o["status"] == "completed")
    assert final["current_step"] is None
    assert final["totals"] == {
        "currency": "USD",
        "subtotal": "37.50",
        "discount": "0.00",
        "charges": "0.00",
        "tax": "0.00",
        "tax_included": False,
        "total": "37.50",
        "invoiced": "37.50",
        "paid": "37.50",
        "credited": "0.00",
        "balance": "0.00",
    }
    assert final["rule"] == "default"
    stock = (await api.get(f"/api/inventory/{product['sku']}")).json()
    stock.pop("warehouses")
    assert stock == {
        "sku": product["sku"],
        "on_hand": 17,
        "committed": 0,
        "available": 17,
        "stocked": True,
    }

    completed_steps = [e["step"] for e in final["events"] if e["kind"] == "step_completed"]
    assert completed_steps == STEPS
    assert [e["kind"] for e in final["events"]][-1] == "completed"
    actors = {e["actor"] for e in final["events"] if e["kind"] == "task_completed"}
    assert actors == {picker["email"]}

    with Session(engine) as session:
        db_order = session.exec(select(SalesOrder).where(SalesOrder.number == number)).one()
        assert len(session.exec(select(Invoice).where(Invoice.order_id == db_order.id)).all()) == 1
        assert len(session.exec(select(Payment).where(Payment.order_id == db_order.id)).all()) == 1
        kinds = [
            m.kind
            for m in session.exec(select(StockMovement).where(StockMovement.order_number == number))
        ]
        assert sorted(kinds) == ["commit", "pack"]


@pytest.mark.parametrize("rules_dir", [RULES / "all_auto"])
async def test_prepaid_web_order_runs_straight_through(
    api: httpx.AsyncClient, worker, rules_dir
) -> None:
    product = await create_product(api, on_hand=5, price="9.99")
    customer = await create_customer(api)
    order = await place_order(
        api,
        customer["id"],
        [(product["sku"], 2)],
        channel="web",
        prepaid=True,
        external_ref="shop-1001",
    )
    final = await wait_for_order(api, order["number"], lambda o: o["status"] == "completed")
    assert final["totals"]["paid"] == "19.98"
    assert final["rule"] == "all-auto"
    duplicate = await api.post(
        "/api/orders",
        json={
            "customer_id": customer["id"],
            "channel": "web",
            "external_ref": "shop-1001",
            "lines": [{"sku": product["sku"], "qty": 1}],
        },
    )
    assert duplicate.status_code == 409
    assert order["number"] in duplicate.json()["detail"]


@pytest.mark.parametrize("rules_dir", [RULES / "picking_task"])
async def test_cancel_before_packing_releases_stock(
    api: httpx.AsyncClient, worker, rules_dir
) -> None:
    product = await create_product(api, on_hand=4)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 4)])
    task = await wait_for_open_task(api, order["number"], "picking")
    assert (await api.get(f"/api/inventory/{product['sku']}")).json()["committed"] == 4

    low = await create_employee(api, ["warehouse"], clearance=1)
    forbidden = await api.post(f"/api/orders/{order['number']}/cancel", headers=auth(low))
    assert forbidden.status_code == 403

    cancelled = await api.post(f"/api/orders/{order['number']}/cancel?reason=customer+asked")
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["status"] == "cancelled"
    assert [t["status"] for t in body["tasks"] if t["id"] == task["id"]] == ["cancelled"]
    assert "customer asked" in body["events"][-1]["message"]
    stock = (await api.get(f"/api/inventory/{product['sku']}")).json()
    stock.pop("warehouses")
    assert stock == {
        "sku": product["sku"],
        "on_hand": 4,
        "committed": 0,
        "available": 4,
        "stocked": True,
    }
    again = await api.post(f"/api/orders/{order['number']}/cancel")
    assert again.status_code == 409


@pytest.mark.parametrize("rules_dir", [RULES / "all_auto"])
async def test_cancel_is_refused_once_packing_started(
    api: httpx.AsyncClient, worker, rules_dir
) -> None:
    product = await create_product(api, on_hand=4)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)])  # not prepaid: waits
    await wait_for_order(api, order["number"], lambda o: o["current_step"] == "collection")
    refused = await api.post(f"/api/orders/{order['number']}/cancel")
    assert refused.status_code == 409
    assert "collection" in refused.json()["detail"]
