"""Recorded workflow histories replay against the order workflow code that runs them.

v1–v7 histories are of the type SalesOrderWorkflow (workflows/v7, kept registered while such
orders drain) and replay against it; v8 and later are of the type SalesOrder
(workflows/sales_order.py) and replay against that.
Set CONVEYOR_RECORD_HISTORIES=1 to write the histories of the live runs under `histories/`, named
`<RECORD_AS>_<scenario>.json`. Histories of every earlier workflow version stay and keep replaying:
before a change to the workflow, record the current version; after it, bump RECORD_AS.
"""

import os
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from conveyor.core.settings import Settings
from conveyor.core.temporal import data_converter, order_workflow_id
from tests.conftest import RULES
from tests.utils.api import (
    create_customer,
    create_product,
    place_order,
    wait_for_open_task,
    wait_for_order,
)
from tests.workflows.test_continue_as_new import runs, start_order, wait_for_runs
from workflows.sales_order import SalesOrderWorkflow
from workflows.types import SalesOrderNames
from workflows.v7.sales_order import SalesOrderWorkflow as LegacySalesOrderWorkflow

HISTORIES = Path(__file__).resolve().parent / "histories"
# The workflow version the live runs below record (v1: before notifications, v2: notifications
# and SLA timers, v3: dunning, v4: quote mails, reminders and sibling voiding,
# v5: partial shipments, v6: drop-ship purchase orders, v7: amend and cancel notices,
# v8: the SalesOrder workflow type: a few activities per order, continue-as-new,
# v9: the delivery step, patched "delivery-stage", v10: the delivery SLA, patched
# "delivery-sla", v11: service lines and the service step, patched "service-lines").
RECORD_AS = "v11"
# The first version of the SalesOrder type; earlier versions are SalesOrderWorkflow's.
FIRST_V8 = 8


def _version(name: str) -> int:
    return int(name.split("_", 1)[0].removeprefix("v"))


def _replayer(version: int) -> Replayer:
    workflow = SalesOrderWorkflow if version >= FIRST_V8 else LegacySalesOrderWorkflow
    return Replayer(workflows=[workflow], data_converter=data_converter)


def _workflow_type(history: WorkflowHistory) -> str:
    return history.events[0].workflow_execution_started_event_attributes.workflow_type.name


async def test_recorded_histories_replay() -> None:
    files = sorted(HISTORIES.glob("*.json"))
    assert files, "no recorded histories found"
    assert {_version(path.stem) for path in files} >= set(range(1, FIRST_V8 + 1))
    for path in files:
        history = WorkflowHistory.from_json(path.stem, path.read_text())
        version = _version(path.stem)
        expected = (
            SalesOrderNames.WORKFLOW if version >= FIRST_V8 else SalesOrderNames.LEGACY_WORKFLOW
        )
        assert _workflow_type(history) == expected, path.name
        await _replayer(version).replay_workflow(history)


def _keep(history: WorkflowHistory, name: str) -> None:
    if os.environ.get("CONVEYOR_RECORD_HISTORIES") == "1":
        (HISTORIES / f"{RECORD_AS}_{name}.json").write_text(history.to_json())


async def _record(client: Client, number: str, name: str) -> None:
    history = await client.get_workflow_handle(order_workflow_id(number)).fetch_history()
    assert _workflow_type(history) == SalesOrderNames.WORKFLOW
    await _replayer(_version(RECORD_AS)).replay_workflow(history)
    _keep(history, name)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("rules_dir", [RULES / "picking_task"])
async def test_live_histories_replay(
    api: httpx.AsyncClient, worker, temporal_client: Client, rules_dir, database_url
) -> None:
    product = await create_product(api, on_hand=3, price="4.10")
    customer = await create_customer(api)

    # A backordered order that gets stock, goes through a task, is paid and completes.
    first = await place_order(api, customer["id"], [(product["sku"], 5)])
    await wait_for_order(api, first["number"], lambda o: o["status"] == "backordered")
    await api.post(f"/api/inventory/{product['sku']}/receive", json={"qty": 2})
    task = await wait_for_open_task(api, first["number"], "picking")
    assert (await api.post(f"/api/tasks/{task['id']}/complete", json={})).status_code == 200
    await wait_for_order(api, first["number"], lambda o: o["current_step"] == "collection")
    paid = await api.post(f"/api/orders/{first['number']}/payments", json={"amount": "20.50"})
    assert paid.status_code == 201
    await wait_for_order(api, first["number"], lambda o: o["status"] == "completed")
    await _record(temporal_client, first["number"], "completed_after_backorder_and_task")

    # An order cancelled while its picking task is open.
    await api.post(f"/api/inventory/{product['sku']}/receive", json={"qty": 1})
    second = await place_order(api, customer["id"], [(product["sku"], 1)])
    await wait_for_open_task(api, second["number"], "picking")
    assert (await api.post(f"/api/orders/{second['number']}/cancel")).status_code == 200
    await _record(temporal_client, second["number"], "cancelled_at_picking")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("rules_dir", [RULES / "quote_task"])
async def test_live_quote_histories_replay(
    api: httpx.AsyncClient, worker, temporal_client: Client, rules_dir, database_url
) -> None:
    product = await create_product(api, on_hand=10, price="4.10")
    customer = await create_customer(api)
    accepted, voided = [
        await place_order(
            api, customer["id"], [(product["sku"], qty)], opportunity="OPP-REPLAY", prepaid=True
        )
        for qty in (1, 2)
    ]
    await wait_for_open_task(api, voided["number"], "quote")
    task = await wait_for_open_task(api, accepted["number"], "quote")
    assert (await api.post(f"/api/tasks/{task['id']}/complete", json={})).status_code == 200
    await wait_for_order(api, accepted["number"], lambda o: o["status"] == "completed")
    await wait_for_order(api, voided["number"], lambda o: o["status"] == "cancelled")
    await _record(temporal_client, accepted["number"], "quote_accepted")
    await _record(temporal_client, voided["number"], "quote_voided")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("rules_dir", [RULES / "all_auto"])
async def test_live_partial_shipment_history_replays(
    api: httpx.AsyncClient, worker, temporal_client: Client, rules_dir, database_url
) -> None:
    product = await create_product(api, on_hand=2, price="4.10")
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 5)], allow_partial=True)
    await wait_for_order(api, order["number"], lambda o: o["status"] == "backordered")
    await api.post(f"/api/inventory/{product['sku']}/receive", json={"qty": 3})
    await wait_for_order(api, order["number"], lambda o: o["current_step"] == "collection")
    paid = await api.post(f"/api/orders/{order['number']}/payments", json={"amount": "20.50"})
    assert paid.status_code == 201
    await wait_for_order(api, order["number"], lambda o: o["status"] == "completed")
    await _record(temporal_client, order["number"], "partial_shipments")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("rules_dir", [RULES / "all_auto"])
async def test_live_drop_ship_history_replays(
    api: httpx.AsyncClient, worker, temporal_client: Client, rules_dir, database_url
) -> None:
    desk = await create_product(
        api, on_hand=0, price="50.00", drop_ship=True, supplier_email="po@supplier.example"
    )
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(desk["sku"], 1)], prepaid=True)
    await wait_for_order(api, order["number"], lambda o: o["current_step"] == "invoicing")
    purchase = (await api.get("/api/purchase-orders", params={"order": order["number"]})).json()
    shipped = await api.post(f"/api/purchase-orders/{purchase[0]['number']}/shipped", json={})
    assert shipped.status_code == 200
    await wait_for_order(api, order["number"], lambda o: o["status"] == "completed")
    await _record(temporal_client, order["number"], "drop_ship")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("rules_dir", [RULES / "all_auto"])
async def test_live_straight_through_history_replays(
    api: httpx.AsyncClient, worker, temporal_client: Client, rules_dir, database_url
) -> None:
    product = await create_product(api, on_hand=5, price="4.10")
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 2)], prepaid=True)
    await wait_for_order(api, order["number"], lambda o: o["status"] == "completed")
    await _record(temporal_client, order["number"], "straight_through")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("rules_dir", [RULES / "all_auto"])
async def test_live_continued_as_new_histories_replay(
    api: httpx.AsyncClient,
    worker,
    temporal_client: Client,
    engine,
    settings: Settings,
    rules_dir,
    database_url,
) -> None:
    """A backordered order continued-as-new while waiting for stock: each run replays."""
    product = await create_product(api, on_hand=0, price="4.10")
    customer = await create_customer(api)
    number, first_run = await start_order(
        engine,
        temporal_client,
        settings,
        customer["id"],
        [(product["sku"], 2)],
        backorder_recheck_seconds=0.05,
        max_history_events=60,
    )
    await wait_for_order(api, number, lambda o: o["status"] == "backordered")
    await wait_for_runs(temporal_client, number, first_run, 2)
    await api.post(f"/api/inventory/{product['sku']}/receive", json={"qty": 2})
    await wait_for_order(api, number, lambda o: o["current_step"] == "collection")
    paid = await api.post(f"/api/orders/{number}/payments", json={"amount": "8.20"})
    assert paid.status_code == 201
    await wait_for_order(api, number, lambda o: o["status"] == "completed")
    histories = await runs(temporal_client, number, first_run)
    for history in histories:
        assert _workflow_type(history) == SalesOrderNames.WORKFLOW
        await _replayer(_version(RECORD_AS)).replay_workflow(history)
    _keep(histories[0], "continued_as_new")  # ends in continue-as-new, carrying the state
    _keep(histories[-1], "continued_as_new_last_run")  # starts from that state, completes


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("rules_dir", [RULES / "delivery"])
async def test_live_delivery_history_replays(
    api: httpx.AsyncClient, worker, temporal_client: Client, rules_dir, database_url
) -> None:
    """v9: packed with tracking, the order waits at delivery until the shipment is delivered."""
    product = await create_product(api, on_hand=2, price="4.10")
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 2)], prepaid=True)
    number = order["number"]
    task = await wait_for_open_task(api, number, "packing")
    details = {"carrier": "dhl", "tracking": "REPLAY-1"}
    assert (await api.patch(f"/api/orders/{number}/shipments/1", json=details)).status_code == 200
    assert (await api.post(f"/api/tasks/{task['id']}/complete", json={})).status_code == 200
    await wait_for_order(api, number, lambda o: o["current_step"] == "delivery")
    delivered = await api.post(f"/api/orders/{number}/shipments/1/delivered", json={})
    assert delivered.status_code == 200, delivered.text
    await wait_for_order(api, number, lambda o: o["status"] == "completed")
    await _record(temporal_client, number, "delivered")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("rules_dir", [RULES / "delivery"])
async def test_live_failed_delivery_history_replays(
    api: httpx.AsyncClient, worker, temporal_client: Client, rules_dir, database_url
) -> None:
    """v9: a shipment fails at delivery; the order desk's task follows it up, then done."""
    product = await create_product(api, on_hand=1, price="4.10")
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)], prepaid=True)
    number = order["number"]
    task = await wait_for_open_task(api, number, "packing")
    assert (await api.post(f"/api/tasks/{task['id']}/complete", json={})).status_code == 200
    await wait_for_order(api, number, lambda o: o["current_step"] == "delivery")
    failed = await api.post(f"/api/orders/{number}/shipments/1/failed", json={"reason": "lost"})
    assert failed.status_code == 200, failed.text
    follow_up = await wait_for_open_task(api, number, "delivery")
    assert (await api.post(f"/api/tasks/{follow_up['id']}/complete", json={})).status_code == 200
    await wait_for_order(api, number, lambda o: o["status"] == "completed")
    await _record(temporal_client, number, "delivery_failed")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("rules_dir", [RULES / "delivery_sla"])
async def test_live_late_delivery_history_replays(
    api: httpx.AsyncClient, worker, temporal_client: Client, rules_dir, database_url
) -> None:
    """v10: past the delivery SLA, the order desk's task to chase the carrier; then delivered."""
    product = await create_product(api, on_hand=1, price="4.10")
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)], prepaid=True)
    number = order["number"]
    chase = await wait_for_open_task(api, number, "delivery")
    assert (await api.post(f"/api/tasks/{chase['id']}/complete", json={})).status_code == 200
    delivered = await api.post(f"/api/orders/{number}/shipments/1/delivered", json={})
    assert delivered.status_code == 200, delivered.text
    await wait_for_order(api, number, lambda o: o["status"] == "completed")
    await _record(temporal_client, number, "delivery_late")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("rules_dir", [RULES / "all_auto"])
async def test_live_service_histories_replay(
    api: httpx.AsyncClient, worker, temporal_client: Client, rules_dir, database_url
) -> None:
    """v11: a service-only order skips the goods steps and waits at `service` until staff
    confirm it; a mixed order ships its goods, then waits there before its one invoice."""
    service = await create_product(api, on_hand=0, price="80.00", kind="service")
    goods = await create_product(api, on_hand=2, price="4.10")
    customer = await create_customer(api)
    only = await place_order(api, customer["id"], [(service["sku"], 1)])
    mixed = await place_order(
        api, customer["id"], [(goods["sku"], 2), (service["sku"], 1)], prepaid=True
    )
    for order in (only, mixed):
        number = order["number"]
        await wait_for_order(api, number, lambda o: o["current_step"] == "service")
        confirmed = await api.post(f"/api/orders/{number}/service-delivered", json={})
        assert confirmed.status_code == 200, confirmed.text
    await wait_for_order(api, only["number"], lambda o: o["current_step"] == "collection")
    paid = await api.post(f"/api/orders/{only['number']}/payments", json={"amount": "80.00"})
    assert paid.status_code == 201
    for order in (only, mixed):
        await wait_for_order(api, order["number"], lambda o: o["status"] == "completed")
    await _record(temporal_client, only["number"], "service_only")
    await _record(temporal_client, mixed["number"], "mixed_service")
