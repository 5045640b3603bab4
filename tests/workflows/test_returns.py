"""ReturnWorkflow: restocked goods wake a backordered order; its histories replay.

Set CONVEYOR_RECORD_HISTORIES=1 to write the live run's history under `histories/returns/`
(a folder of its own: the SalesOrderWorkflow replay test reads only the top level).
"""

import os
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from conveyor.core.settings import Settings
from conveyor.core.temporal import data_converter
from tests.conftest import RULES
from tests.utils.api import create_customer, create_product, place_order, wait_for_order
from workflows.return_types import ReturnResult
from workflows.returns import ReturnWorkflow, return_workflow_id

HISTORIES = Path(__file__).resolve().parent / "histories" / "returns"
RECORD_AS = "v1"


def _replayer() -> Replayer:
    return Replayer(workflows=[ReturnWorkflow], data_converter=data_converter)


async def test_recorded_return_histories_replay() -> None:
    files = sorted(HISTORIES.glob("*.json"))
    assert files, "no recorded return histories found"
    for path in files:
        await _replayer().replay_workflow(WorkflowHistory.from_json(path.stem, path.read_text()))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("rules_dir", [RULES / "all_auto"])
async def test_restocked_return_wakes_a_backordered_order_and_replays(
    api: httpx.AsyncClient, worker, temporal_client: Client, rules_dir, database_url
) -> None:
    product = await create_product(api, on_hand=2, price="7.50")
    customer = await create_customer(api)
    first = await place_order(
        api, customer["id"], [(product["sku"], 2)], channel="sales_rep", prepaid=True
    )
    await wait_for_order(api, first["number"], lambda o: o["status"] == "completed")
    waiting = await place_order(
        api, customer["id"], [(product["sku"], 1)], channel="sales_rep", prepaid=True
    )
    await wait_for_order(api, waiting["number"], lambda o: o["status"] == "backordered")

    rma = await api.post(
        f"/api/orders/{first['number']}/returns",
        json={"lines": [{"sku": product["sku"], "qty": 1}], "reason": "wrong size"},
    )
    assert rma.status_code == 201, rma.text
    number = rma.json()["number"]
    received = await api.post(f"/api/returns/{number}/receive", json={})
    assert received.status_code == 200, received.text
    assert received.json()["refund_total"] == "7.50"
    # Woken by the return's signal, well before the backorder's periodic recheck (30 s here).
    await wait_for_order(api, waiting["number"], lambda o: o["status"] == "completed", 20)

    history = await temporal_client.get_workflow_handle(
        return_workflow_id(first["number"], number)
    ).fetch_history()
    await _replayer().replay_workflow(history)
    if os.environ.get("CONVEYOR_RECORD_HISTORIES") == "1":
        HISTORIES.mkdir(parents=True, exist_ok=True)
        (HISTORIES / f"{RECORD_AS}_received.json").write_text(history.to_json())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("rules_dir", [RULES / "all_auto"])
@pytest.mark.parametrize("outcome", ["approved", "rejected"])
async def test_refund_approval_path_replays(
    api: httpx.AsyncClient,
    worker,
    temporal_client: Client,
    rules_dir,
    database_url,
    settings: Settings,
    outcome: str,
) -> None:
    """Above the approval amount the return waits for the accountant's task (patch
    `refund-approval`); both outcomes replay, recorded as `v2_<outcome>.json`."""
    product = await create_product(api, on_hand=2, price=str(settings.refund_approval_above))
    customer = await create_customer(api)
    order = await place_order(
        api, customer["id"], [(product["sku"], 2)], channel="sales_rep", prepaid=True
    )
    await wait_for_order(api, order["number"], lambda o: o["status"] == "completed")
    rma = await api.post(
        f"/api/orders/{order['number']}/returns",
        json={"lines": [{"sku": product["sku"], "qty": 2}]},
    )
    assert rma.status_code == 201, rma.text
    number = rma.json()["number"]
    received = await api.post(f"/api/returns/{number}/receive", json={})
    assert received.status_code == 202, received.text
    task_id = received.json()["approval_task_id"]
    decided = await api.post(f"/api/tasks/{task_id}/complete", json={"outcome": outcome})
    assert decided.status_code == 200, decided.text
    handle = temporal_client.get_workflow_handle(
        return_workflow_id(order["number"], number), result_type=ReturnResult
    )
    result = await handle.result()
    assert result.status == ("received" if outcome == "approved" else "rejected")
    assert result.refund == (Decimal("1000.00") if outcome == "approved" else Decimal("0.00"))

    history = await handle.fetch_history()
    await _replayer().replay_workflow(history)
    if os.environ.get("CONVEYOR_RECORD_HISTORIES") == "1":
        (HISTORIES / f"v2_{outcome}.json").write_text(history.to_json())


def test_both_approval_outcomes_are_recorded() -> None:
    names = {path.name for path in HISTORIES.glob("*.json")}
    assert {"v1_received.json", "v2_approved.json", "v2_rejected.json"} <= names
