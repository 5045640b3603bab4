"""Shipments on the pages: the packer records carrier and tracking on the packing task's card,
staff see the shipment (tracking link, delivery note) on the order page and the monitor, and
the customer says "I received it" in the customer center, which completes a paid order."""

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from conveyor.core.settings import Settings
from tests.conftest import ADMIN_TOKEN, RULES
from tests.utils.api import (
    auth,
    create_customer,
    create_employee,
    create_product,
    place_order,
    wait_for_open_task,
    wait_for_order,
)
from tests.utils.pages import customer_client, open_customer_account, staff_client

TRACK = "https://www.dhl.com/track?id={tracking}"


@pytest.fixture
def rules_dir() -> Path:
    return RULES / "delivery"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"carrier_tracking_urls": {"dhl": TRACK}})


async def _shipped(api: httpx.AsyncClient, number: str) -> dict:
    for _ in range(200):
        shipments = (await api.get(f"/api/orders/{number}/shipments")).json()
        if shipments and shipments[0]["status"] == "shipped":
            return shipments[0]
        await asyncio.sleep(0.2)
    raise AssertionError(f"{number} never shipped")


async def test_packer_tracks_staff_see_it_and_the_customer_confirms_receipt(
    api: httpx.AsyncClient, worker, engine: Engine
) -> None:
    clerk = await create_employee(api, ["warehouse"], clearance=1)
    await api.post(f"/api/employees/{clerk['id']}/clock-in", headers=auth(clerk))
    product = await create_product(api, on_hand=3, price="7.00")
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 2)], prepaid=True)
    number = order["number"]
    task = await wait_for_open_task(api, number, "packing")

    staff = await staff_client(api, clerk["token"])
    inbox = await staff.get("/inbox/tasks", params={"scope": "pool"})
    assert 'data-testid="tracking"' in inbox.text
    done = await staff.post(
        f"/inbox/tasks/{task['id']}/complete",
        {"outcome": "done", "carrier": "DHL", "tracking": "PAGE-77"},
        headers={"HX-Request": "true"},
    )
    assert "completed" in done.text, done.text
    shipment = await _shipped(api, number)
    assert shipment["carrier"] == "DHL" and shipment["tracking"] == "PAGE-77"
    link = "https://www.dhl.com/track?id=PAGE-77"
    assert shipment["tracking_url"] == link
    await wait_for_order(api, number, lambda o: o["current_step"] == "delivery")

    admin = await staff_client(api, ADMIN_TOKEN)
    page = await admin.get(f"/orders/{number}")
    assert page.status_code == 200
    assert 'data-testid="shipment"' in page.text and link in page.text
    note = await admin.get(f"/orders/{number}/shipments/1/delivery-note.pdf")
    assert note.status_code == 200 and note.content.startswith(b"%PDF")
    monitor = await admin.get("/monitor")
    in_transit = monitor.text.split('<section class="card" id="shipments">')[1].split("</section>")[
        0
    ]
    assert f"/orders/{number}" in in_transit, in_transit

    open_customer_account(engine, customer["id"], "a long customer password")
    me = await customer_client(api, customer["email"], "a long customer password")
    mine = await me.get(f"/customer/orders/{number}")
    assert link in mine.text and 'data-testid="received"' in mine.text
    received = await me.post(f"/customer/orders/{number}/shipments/1/received")
    assert received.status_code == 303
    await wait_for_order(api, number, lambda o: o["status"] == "completed")
    delivered = (await api.get(f"/api/orders/{number}/shipments")).json()[0]
    assert delivered["status"] == "delivered" and delivered["signed_by"] == customer["name"]
    for client in (staff, admin, me):
        await client.aclose()


async def test_staff_record_tracking_delivery_and_failure_on_the_order_page(
    api: httpx.AsyncClient, worker
) -> None:
    product = await create_product(api, on_hand=5, price="4.00")
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)], prepaid=True)
    number = order["number"]
    task = await wait_for_open_task(api, number, "packing")
    assert (await api.post(f"/api/tasks/{task['id']}/complete", json={})).status_code == 200
    await _shipped(api, number)

    desk = await staff_client(api, (await create_employee(api, ["order_desk"]))["token"])
    base = f"/orders/{number}/shipments/1"
    tracked = await desk.post(base, {"carrier": "DHL", "tracking": "DESK-5"})
    assert tracked.status_code == 303 and tracked.headers["location"].endswith("#shipments")
    assert "Shipment 1 updated." in (await desk.get(f"/orders/{number}")).text
    shipment = (await api.get(f"/api/orders/{number}/shipments")).json()[0]
    assert (shipment["carrier"], shipment["tracking"]) == ("DHL", "DESK-5")

    # A refusal comes back as the alert, nothing recorded: no shipment 9.
    missing = await desk.post(f"/orders/{number}/shipments/9/delivered", {"signed_by": "X"})
    assert missing.status_code == 303
    page = (await desk.get(f"/orders/{number}")).text
    assert 'data-testid="alert"' in page and "Not recorded" in page
    no_reason = await desk.post(f"{base}/failed", {"reason": " "})
    assert no_reason.status_code == 303
    assert "say what happened" in (await desk.get(f"/orders/{number}")).text

    delivered = await desk.post(f"{base}/delivered", {"signed_by": "Dock B", "note": "ok"})
    assert delivered.status_code == 303
    assert "Shipment 1 delivered." in (await desk.get(f"/orders/{number}")).text
    shipment = (await api.get(f"/api/orders/{number}/shipments")).json()[0]
    assert shipment["status"] == "delivered" and shipment["signed_by"] == "Dock B"
    await wait_for_order(api, number, lambda o: o["status"] == "completed")
    await desk.aclose()
