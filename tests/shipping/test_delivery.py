"""Shipments and delivery end to end: a partial order ships twice with tracking, each shipment
is delivered on its own day (staff, then the carrier's signed event), and the order completes
only once both are delivered and it is paid; the customer gets a shipped and a delivered mail
for each, with that shipment's tracking link."""

import asyncio
import json
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from conveyor.core.db import session_scope
from conveyor.core.models import utcnow
from conveyor.core.settings import Settings
from conveyor.order.models import OrderEvent
from conveyor.outbound.models import OutboundEvent
from conveyor.shipping.views import SIGNATURE_HEADER, sign_carrier
from conveyor.task.models import Task
from tests.conftest import ADMIN_TOKEN, RULES, Mailbox
from tests.utils.api import (
    create_customer,
    create_product,
    place_order,
    wait_for_open_task,
    wait_for_order,
)
from tests.utils.pages import staff_client

CARRIER_SECRET = "carrier-test-secret-0123456789"
TRACKING_URLS = {
    "dhl": "https://www.dhl.com/track?id={tracking}",
    "ups": "https://www.ups.com/track?tracknum={tracking}",
}


@pytest.fixture
def rules_dir() -> Path:
    """Packing is a task (tracking recorded on it); delivery waits for each shipment."""
    return RULES / "delivery"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "carrier_tracking_urls": TRACKING_URLS,
            "carrier_webhook_secret": SecretStr(CARRIER_SECRET),
        }
    )


async def _mails(mailbox: Mailbox, address: str, part: str, count: int) -> list:
    for _ in range(300):
        found = [m for m in mailbox.to(address) if part in m["Subject"].lower()]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(
        f"{count} x '{part}' to {address}; got {[m['Subject'] for m in mailbox.messages]}"
    )


def _text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


async def _pack(api: httpx.AsyncClient, number: str, shipment: int, details: dict) -> dict:
    """Record the carrier and tracking on the open packing task's shipment, then pack."""
    task = await wait_for_open_task(api, number, "packing")
    ahead = await api.patch(f"/api/orders/{number}/shipments/{shipment}", json=details)
    assert ahead.status_code == 200, ahead.text
    assert ahead.json()["status"] == "packed"
    done = await api.post(f"/api/tasks/{task['id']}/complete", json={})
    assert done.status_code == 200, done.text
    for _ in range(200):
        shipments = (await api.get(f"/api/orders/{number}/shipments")).json()
        if len(shipments) >= shipment and shipments[shipment - 1]["status"] == "shipped":
            return shipments[shipment - 1]
        await asyncio.sleep(0.2)
    raise AssertionError(f"shipment {shipment} of {number} never shipped: {shipments}")


def _carrier_post(api: httpx.AsyncClient, event: dict, secret: str = CARRIER_SECRET):
    body = json.dumps(event).encode()
    header = sign_carrier(body, secret, int(time.time()))
    return api.post(
        "/webhooks/carrier",
        content=body,
        headers={SIGNATURE_HEADER: header, "Content-Type": "application/json"},
    )


def _events(engine: Engine, number: str) -> list[tuple[str, int, str | None]]:
    """The order's outbound shipment events: type, shipment number, tracking."""
    with session_scope(engine) as session:
        rows = session.exec(select(OutboundEvent).order_by(col(OutboundEvent.id))).all()
    return [
        (row.type, row.payload["shipment"]["number"], row.payload["shipment"]["tracking"])
        for row in rows
        if row.payload.get("number") == number and "shipment" in row.payload
    ]


async def test_partial_order_completes_after_both_shipments_are_delivered_and_paid(
    api: httpx.AsyncClient, worker, mailbox: Mailbox, engine: Engine
) -> None:
    product = await create_product(api, on_hand=2, price="10.00")
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 5)], allow_partial=True)
    number = order["number"]

    first = await _pack(api, number, 1, {"carrier": "DHL", "tracking": "JD0001", "packages": 1})
    assert first["tracking_url"] == "https://www.dhl.com/track?id=JD0001"
    assert first["lines"] == [{"sku": product["sku"], "name": product["name"], "qty": 2}]
    await api.post(f"/api/inventory/{product['sku']}/receive", json={"qty": 3})
    second = await _pack(
        api,
        number,
        2,
        {"carrier": "ups", "service": "ground", "tracking": "1Z999", "weight_kg": "2.5"},
    )
    assert second["tracking_url"] == "https://www.ups.com/track?tracknum=1Z999"
    assert second["lines"][0]["qty"] == 3

    waiting = await wait_for_order(api, number, lambda o: o["current_step"] == "delivery")
    assert waiting["status"] == "open"

    # Shipment 1 arrived yesterday (staff record it); the order still waits for shipment 2.
    yesterday = utcnow() - timedelta(days=1)
    delivered = await api.post(
        f"/api/orders/{number}/shipments/1/delivered",
        json={"signed_by": "Ann Reception", "delivered_at": yesterday.isoformat()},
    )
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["status"] == "delivered"
    assert delivered.json()["signed_by"] == "Ann Reception"
    await asyncio.sleep(1.0)
    still = (await api.get(f"/api/orders/{number}")).json()
    assert still["current_step"] == "delivery" and still["status"] == "open"

    # A forged carrier event (wrong secret) and an unsigned one change nothing.
    forged = await _carrier_post(api, {"tracking": "1Z999", "event": "delivered"}, "not-the-secret")
    assert forged.status_code == 401
    unsigned = await api.post("/webhooks/carrier", json={"tracking": "1Z999", "event": "delivered"})
    assert unsigned.status_code == 401
    assert (await api.get(f"/api/orders/{number}/shipments")).json()[1]["status"] == "shipped"

    # Shipment 2 arrives today: the carrier says so, signed.
    event = {"tracking": "1Z999", "event": "delivered", "carrier": "ups", "signed_by": "B. Door"}
    answer = await _carrier_post(api, event)
    assert answer.status_code == 200, answer.text
    assert answer.json()["number"] == 2 and answer.json()["status"] == "delivered"

    # Delivered, not yet paid: collection waits; paid: completed.
    unpaid = await wait_for_order(api, number, lambda o: o["current_step"] == "collection")
    assert unpaid["status"] == "open"
    total = unpaid["totals"]["total"]
    paid = await api.post(f"/api/orders/{number}/payments", json={"amount": total})
    assert paid.status_code == 201, paid.text
    await wait_for_order(api, number, lambda o: o["status"] == "completed")

    shipments = (await api.get(f"/api/orders/{number}/shipments")).json()
    days = [s["delivered_at"][:10] for s in shipments]
    assert days == [yesterday.date().isoformat(), utcnow().date().isoformat()]

    email = customer["email"]
    shipped = await _mails(mailbox, email, "has shipped", 2)
    assert len(shipped) == 2
    assert "https://www.dhl.com/track?id=JD0001" in _text(shipped[0])
    assert "https://www.ups.com/track?tracknum=1Z999" in _text(shipped[1])
    assert f"2 x {product['sku']}" in _text(shipped[0])
    assert f"3 x {product['sku']}" in _text(shipped[1])
    arrived = await _mails(mailbox, email, "delivered", 2)
    assert len(arrived) == 2
    assert "Ann Reception" in _text(arrived[0]) and "JD0001" in _text(arrived[0])
    assert "1Z999" in _text(arrived[1])
    # Other systems hear of each shipment and delivery once (outbound webhooks).
    assert _events(engine, number) == [
        ("order.shipped", 1, "JD0001"),
        ("order.shipped", 2, "1Z999"),
        ("order.delivered", 1, "JD0001"),
        ("order.delivered", 2, "1Z999"),
    ]


async def test_failed_shipment_gives_the_order_desk_a_task(api: httpx.AsyncClient, worker) -> None:
    product = await create_product(api, on_hand=1, price="10.00")
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)], prepaid=True)
    number = order["number"]
    await _pack(api, number, 1, {"carrier": "dhl", "tracking": "LOST1"})
    await wait_for_order(api, number, lambda o: o["current_step"] == "delivery")
    missing = await api.patch(f"/api/orders/{number}/shipments/7", json={"tracking": "X"})
    assert missing.status_code == 404

    lost = await _carrier_post(api, {"tracking": "LOST1", "event": "failed", "note": "lost"})
    assert lost.status_code == 200, lost.text
    assert lost.json()["status"] == "failed" and lost.json()["failure_reason"] == "lost"
    task = await wait_for_open_task(api, number, "delivery")
    assert task["role"] == "order_desk"
    staff = await staff_client(api, ADMIN_TOKEN)
    page = (await staff.get(f"/orders/{number}")).text
    assert 'data-testid="shipment-failed"' in page and "Shipment 1 failed: lost" in page
    await staff.aclose()
    late = await api.post(f"/api/orders/{number}/shipments/1/failed", json={"reason": "again"})
    assert late.status_code == 200  # failed already: unchanged
    assert late.json()["failure_reason"] == "lost"

    done = await api.post(f"/api/tasks/{task['id']}/complete", json={"note": "refunded"})
    assert done.status_code == 200, done.text
    await wait_for_order(api, number, lambda o: o["status"] == "completed")


async def test_a_drop_ship_purchase_order_is_a_shipment_with_the_suppliers_tracking(
    api: httpx.AsyncClient, worker, mailbox: Mailbox
) -> None:
    desk = await create_product(
        api, on_hand=0, price="50.00", drop_ship=True, supplier_email="po@supplier.example"
    )
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(desk["sku"], 1)], prepaid=True)
    number = order["number"]
    packing = await wait_for_open_task(api, number, "packing")  # nothing of ours to pack
    assert (await api.post(f"/api/tasks/{packing['id']}/complete", json={})).status_code == 200
    await wait_for_order(api, number, lambda o: o["current_step"] == "invoicing")
    assert (await api.get(f"/api/orders/{number}/shipments")).json() == []

    purchase = (await api.get("/api/purchase-orders", params={"order": number})).json()[0]
    confirmed = await api.post(
        f"/api/purchase-orders/{purchase['number']}/shipped", json={"tracking": "DS-42"}
    )
    assert confirmed.status_code == 200, confirmed.text
    await wait_for_order(api, number, lambda o: o["current_step"] == "delivery")
    (shipment,) = (await api.get(f"/api/orders/{number}/shipments")).json()
    assert (shipment["number"], shipment["status"]) == (1, "shipped")
    assert shipment["purchase_order_number"] == purchase["number"]
    assert shipment["tracking"] == "DS-42"
    assert shipment["lines"] == [{"sku": desk["sku"], "name": desk["name"], "qty": 1}]
    (mail,) = await _mails(mailbox, customer["email"], "has shipped", 1)
    assert "DS-42" in _text(mail)

    # The carrier adds the tracking link later: staff record the carrier, the URL follows.
    carried = await api.patch(f"/api/orders/{number}/shipments/1", json={"carrier": "dhl"})
    assert carried.json()["tracking_url"] == "https://www.dhl.com/track?id=DS-42"
    answer = await _carrier_post(api, {"tracking": "DS-42", "event": "delivered"})
    assert answer.status_code == 200, answer.text
    await wait_for_order(api, number, lambda o: o["status"] == "completed")


@pytest.mark.parametrize("rules_dir", [RULES / "own_fleet"])
async def test_own_fleet_delivery_is_a_task_and_its_done_delivers_every_shipment(
    api: httpx.AsyncClient, worker, mailbox: Mailbox, rules_dir: Path
) -> None:
    product = await create_product(api, on_hand=4, price="3.00")
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 4)], prepaid=True)
    number = order["number"]
    task = await wait_for_open_task(api, number, "delivery")
    assert task["role"] == "warehouse"
    (shipment,) = (await api.get(f"/api/orders/{number}/shipments")).json()
    assert shipment["status"] == "shipped"
    assert (await api.post(f"/api/tasks/{task['id']}/complete", json={})).status_code == 200
    await wait_for_order(api, number, lambda o: o["status"] == "completed")
    (shipment,) = (await api.get(f"/api/orders/{number}/shipments")).json()
    assert shipment["status"] == "delivered"
    assert shipment["delivery_note"] == "delivered by our own fleet"
    (mail,) = await _mails(mailbox, customer["email"], "delivered", 1)
    assert f"4 x {product['sku']}" in _text(mail)


@pytest.mark.parametrize("rules_dir", [RULES / "all_auto"])  # no delivery step: done when paid
async def test_a_drop_ship_shipment_failing_after_the_order_finished_is_an_order_desk_task(
    api: httpx.AsyncClient, worker, engine: Engine
) -> None:
    desk = await create_product(
        api, on_hand=0, price="50.00", drop_ship=True, supplier_email="po@supplier.example"
    )
    customer = await create_customer(api)
    number = (await place_order(api, customer["id"], [(desk["sku"], 1)], prepaid=True))["number"]
    await wait_for_order(api, number, lambda o: o["current_step"] == "invoicing")
    purchase = (await api.get("/api/purchase-orders", params={"order": number})).json()[0]
    confirmed = await api.post(
        f"/api/purchase-orders/{purchase['number']}/shipped", json={"tracking": "DS-77"}
    )
    assert confirmed.status_code == 200, confirmed.text
    await wait_for_order(api, number, lambda o: o["status"] == "completed")

    lost = await api.post(f"/api/orders/{number}/shipments/1/failed", json={"reason": "lost"})
    assert lost.status_code == 200, lost.text
    assert lost.json()["status"] == "failed"
    again = await api.post(f"/api/orders/{number}/shipments/1/failed", json={"reason": "lost"})
    assert again.status_code == 200, again.text  # told twice: still one task
    order = (await api.get(f"/api/orders/{number}")).json()
    assert order["status"] == "completed"
    (task,) = order["tasks"]
    assert (task["step"], task["role"], task["status"]) == ("delivery", "order_desk", "open")
    with session_scope(engine) as session:
        keys = session.exec(select(Task.key).where(Task.order_number == number)).all()
    assert [k for k in keys if ":failed:" in k] == [f"{number}:after:failed:1"]
    done = await api.post(f"/api/tasks/{task['id']}/complete", json={"note": "reshipped"})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    with session_scope(engine) as session:
        trail = session.exec(select(OrderEvent.message).where(OrderEvent.kind == "shipment_failed"))
        assert any("after the order was completed" in m for m in trail.all())
