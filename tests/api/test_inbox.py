"""Inbox API: scopes, claim race, unclaim, reassign, SLA state, clock in/out hand-over."""

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from conveyor.core.db import session_scope
from conveyor.order import service as order_service
from conveyor.order.flows import TASK_NOT_YET_AWAITED_SECONDS
from conveyor.task import service as task_service
from tests.conftest import RULES
from tests.utils.api import auth, create_customer, create_employee, create_product, place_order


@pytest.fixture
def rules_dir() -> Path:
    """Web orders get an order_desk task at allocation (round-robin); others least-loaded."""
    return RULES / "web_round_robin"


async def _task_of(api: httpx.AsyncClient, number: str) -> dict:
    for _ in range(300):
        order = (await api.get(f"/api/orders/{number}")).json()
        open_tasks = [t for t in order["tasks"] if t["status"] == "open"]
        if open_tasks:
            return (await api.get(f"/api/tasks/{open_tasks[0]['id']}")).json()
        await asyncio.sleep(0.1)
    raise AssertionError(f"no task for {number}")


async def _web_order(api: httpx.AsyncClient) -> str:
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)], channel="web")
    return order["number"]


async def test_pool_then_assigned_at_clock_in_and_handed_over_at_clock_out(
    api: httpx.AsyncClient, worker
) -> None:
    first = await create_employee(api, ["order_desk"])
    second = await create_employee(api, ["order_desk"])
    number = await _web_order(api)
    task = await _task_of(api, number)
    assert task["assignee_id"] is None  # nobody on duty: the pool
    pool = (await api.get("/api/tasks?scope=pool", headers=auth(first))).json()
    assert [t["id"] for t in pool["data"]] == [task["id"]]

    clocked = await api.post(f"/api/employees/{first['id']}/clock-in", headers=auth(first))
    assert clocked.status_code == 200 and clocked.json()["on_duty"] is True
    mine = (await api.get("/api/tasks?scope=mine", headers=auth(first))).json()
    assert [t["id"] for t in mine["data"]] == [task["id"]]
    assert mine["data"][0]["assigned_at"] is not None

    # Someone else may not clock me out; I hand my task over when I leave.
    other = await api.post(f"/api/employees/{first['id']}/clock-out", headers=auth(second))
    assert other.status_code == 403
    await api.post(f"/api/employees/{second['id']}/clock-in", headers=auth(second))
    await api.post(f"/api/employees/{first['id']}/clock-out", headers=auth(first))
    assert (await api.get(f"/api/tasks/{task['id']}")).json()["assignee_id"] == second["id"]
    history = await api.get(f"/api/employees/{first['id']}/attendance", headers=auth(first))
    shifts = history.json()
    assert len(shifts) == 1 and shifts[0]["clock_out_at"] is not None


async def test_claim_race_has_one_winner(api: httpx.AsyncClient, worker) -> None:
    people = [await create_employee(api, ["order_desk"]) for _ in range(2)]
    number = await _web_order(api)
    task = await _task_of(api, number)
    answers = await asyncio.gather(
        *(api.post(f"/api/tasks/{task['id']}/claim", headers=auth(p)) for p in people)
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 409]
    winner = next(p for p, a in zip(people, answers, strict=True) if a.status_code == 200)
    loser = next(p for p in people if p is not winner)
    assert (await api.get(f"/api/tasks/{task['id']}")).json()["assignee_id"] == winner["id"]
    # The loser cannot complete or unclaim it; the winner can give it back.
    refused = await api.post(f"/api/tasks/{task['id']}/complete", json={}, headers=auth(loser))
    assert refused.status_code == 409
    assert (
        await api.post(f"/api/tasks/{task['id']}/unclaim", headers=auth(loser))
    ).status_code == 409
    back = await api.post(f"/api/tasks/{task['id']}/unclaim", headers=auth(winner))
    assert back.status_code == 200 and back.json()["assignee_id"] is None


async def test_reassign_needs_a_supervisor_and_the_role(api: httpx.AsyncClient, worker) -> None:
    desk = await create_employee(api, ["order_desk"])
    boss = await create_employee(api, ["supervisor"])
    picker = await create_employee(api, ["warehouse"])
    task = await _task_of(api, await _web_order(api))
    url = f"/api/tasks/{task['id']}/reassign"
    assert (
        await api.post(url, json={"employee_id": desk["id"]}, headers=auth(desk))
    ).status_code == 403
    wrong_role = await api.post(url, json={"employee_id": picker["id"]}, headers=auth(boss))
    assert wrong_role.status_code == 409
    assert "order_desk" in wrong_role.json()["detail"]
    done = await api.post(url, json={"employee_id": desk["id"]}, headers=auth(boss))
    assert done.status_code == 200 and done.json()["assignee_id"] == desk["id"]
    completed = await api.post(
        f"/api/tasks/{task['id']}/complete",
        json={"outcome": "approved", "note": "ok"},
        headers=auth(desk),
    )
    assert completed.status_code == 200
    assert completed.json()["outcome"] == "approved"


async def test_inbox_filters_and_sorting(api: httpx.AsyncClient, worker) -> None:
    desk = await create_employee(api, ["order_desk"])
    numbers = []
    for _ in range(3):  # one at a time: tasks of concurrent orders may be created in any order
        numbers.append(await _web_order(api))
        await _task_of(api, numbers[-1])
    listing = (await api.get("/api/tasks?scope=all&sort=-created", headers=auth(desk))).json()
    assert listing["count"] == 3
    assert [t["order_number"] for t in listing["data"]] == list(reversed(numbers))
    assert all(t["sla_state"] is None for t in listing["data"])  # no SLA in these rules
    assert (await api.get("/api/tasks?step=picking", headers=auth(desk))).json()["count"] == 0
    assert (await api.get("/api/tasks?overdue=true", headers=auth(desk))).json()["count"] == 0
    outsider = await create_employee(api, ["warehouse"])
    assert (await api.get("/api/tasks?scope=all", headers=auth(outsider))).json()["count"] == 0
    assert (await api.get("/api/tasks?scope=everything")).status_code == 422


async def test_a_task_the_order_does_not_wait_for_is_refused_after_a_short_retry(
    api: httpx.AsyncClient, worker, engine
) -> None:
    desk = await create_employee(api, ["order_desk"])
    number = await _web_order(api)
    awaited = await _task_of(api, number)
    with session_scope(engine) as session:
        order = order_service.get_by_number(session=session, number=number)
        stray = task_service.create(
            session=session,
            key=f"{number}:stray",
            order_id=order.id,
            order_number=number,
            step="allocation",
            role="order_desk",
        )
    started = time.monotonic()
    refused = await api.post(f"/api/tasks/{stray.id}/complete", json={}, headers=auth(desk))
    assert refused.status_code == 409
    assert "not waiting for this task" in refused.json()["detail"]
    assert time.monotonic() - started >= TASK_NOT_YET_AWAITED_SECONDS  # retried, then refused
    done = await api.post(f"/api/tasks/{awaited['id']}/complete", json={}, headers=auth(desk))
    assert done.status_code == 200
