"""Picking and packing as a warehouse clerk works them from the inbox (issue 14, item 10): a
claimed task stays in the pool view marked yours, a pool task is claimed and completed in one
action, the packing comes to whoever picked (the shipped rules' `assign: {same_as: picking}`),
and nobody is mailed about a task they took themselves."""

from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, ROOT
from tests.utils.api import (
    auth,
    create_customer,
    create_employee,
    create_product,
    place_order,
    wait_for_open_task,
)
from tests.utils.pages import staff_client

HTMX = {"HX-Request": "true"}


@pytest.fixture
def rules_dir() -> Path:
    """The rules Conveyor ships: phone orders are picked and packed by the warehouse."""
    return ROOT.parent / "routing_rules" / "rules"


def _card(html: str, task_id: int) -> str | None:
    """The task's card in an inbox page, None when it is not listed."""
    start = html.find(f'data-task="{task_id}"')
    if start < 0:
        return None
    return html[start : html.index("</article>", start)]


async def _task_mails(api: httpx.AsyncClient, number: str) -> list[dict]:
    answer = await api.get("/api/outbox", params={"order_number": number, "kind": "task_assigned"})
    return answer.json()["data"]


async def _clocked_in_clerk(api: httpx.AsyncClient) -> dict:
    clerk = await create_employee(api, ["warehouse"], clearance=1)
    clocked = await api.post(f"/api/employees/{clerk['id']}/clock-in", headers=auth(clerk))
    assert clocked.status_code == 200, clocked.text
    return clerk


async def test_a_claimed_task_stays_in_view_and_the_picker_packs(
    api: httpx.AsyncClient, worker
) -> None:
    clerk = await _clocked_in_clerk(api)
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)], channel="phone")
    number = order["number"]
    picking = await wait_for_open_task(api, number, "picking")
    assert picking["assignee_id"] is None  # `assign: pool`

    staff = await staff_client(api, clerk["token"])
    claimed = await staff.post(f"/inbox/tasks/{picking['id']}/claim", headers=HTMX)
    assert "is yours" in claimed.text and claimed.headers["HX-Trigger"] == "tasks-changed"
    # The pool view the clerk claimed from still lists the task, marked as theirs.
    pool = await staff.get("/inbox/tasks", params={"scope": "pool"})
    card = _card(pool.text, picking["id"])
    assert card is not None, "the claimed task vanished from the pool view"
    assert 'data-yours="true"' in card and 'data-testid="yours"' in card and "Give back" in card

    done = await staff.post(
        f"/inbox/tasks/{picking['id']}/complete", {"outcome": "done"}, headers=HTMX
    )
    assert "completed" in done.text
    packing = await wait_for_open_task(api, number, "packing")
    assert packing["assignee_id"] == clerk["id"], "packing went to the pool, not to the picker"
    mine = await staff.get("/inbox/tasks", params={"scope": "pool"})
    assert 'data-yours="true"' in (_card(mine.text, packing["id"]) or "")

    # Mails: the pool was told of the picking task, the picker of the packing; the claim by
    # the clerk themselves mailed nobody.
    mails = await _task_mails(api, number)
    keys = sorted(m["key"] for m in mails)
    assert keys == sorted(f"{number}:task:{t['id']}:assigned" for t in (picking, packing)), keys
    await staff.aclose()


async def test_complete_on_a_pool_task_claims_it_and_packing_falls_back_to_the_pool(
    api: httpx.AsyncClient, worker
) -> None:
    clerk = await _clocked_in_clerk(api)
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    first = await place_order(api, customer["id"], [(product["sku"], 1)], channel="phone")
    picking = await wait_for_open_task(api, first["number"], "picking")

    # One action on the pool card: claimed for the clerk and completed.
    staff = await staff_client(api, clerk["token"])
    done = await staff.post(f"/inbox/tasks/{picking['id']}/complete", {"outcome": "done"})
    assert done.status_code == 303
    task = (await api.get(f"/api/tasks/{picking['id']}")).json()
    assert task["status"] == "completed" and task["assignee_id"] == clerk["id"]
    audit = await api.get("/api/audit", params={"entity": "task", "entity_id": picking["id"]})
    assert [e["action"] for e in audit.json()["entries"]].count("task.claim") == 1
    packing = await wait_for_open_task(api, first["number"], "packing")
    assert packing["assignee_id"] == clerk["id"]
    await staff.aclose()

    # Picked by the admin token (nobody who packs): the packing waits in the pool.
    second = await place_order(api, customer["id"], [(product["sku"], 1)], channel="phone")
    picking = await wait_for_open_task(api, second["number"], "picking")
    completed = await api.post(f"/api/tasks/{picking['id']}/complete", json={})
    assert completed.status_code == 200, completed.text
    packing = await wait_for_open_task(api, second["number"], "packing")
    assert packing["assignee_id"] is None


async def test_the_rules_page_reads_same_as_in_words(api: httpx.AsyncClient) -> None:
    admin = await staff_client(api, ADMIN_TOKEN)
    page = await admin.get("/rules")
    assert "warehouse · same person as picking (else pool)" in page.text
    await admin.aclose()
