"""Task outcomes per step: a picking task cannot cancel the order, a rejection needs a cleared
person, a reason and a confirmation; taking a task from its holder is confirmed with a reason."""

from pathlib import Path

import httpx
import pytest

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


@pytest.fixture
def rules_dir() -> Path:
    """Web orders: the order desk reviews; the rest: the warehouse picks and packs."""
    return RULES / "documents"


async def test_a_picking_task_offers_done_only_and_cannot_cancel(
    api: httpx.AsyncClient, worker
) -> None:
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)], channel="sales_rep")
    task = await wait_for_open_task(api, order["number"], "picking")
    clerk = await create_employee(api, ["warehouse"], clearance=1)

    staff = await staff_client(api, clerk["token"])
    inbox = await staff.get("/inbox?scope=pool")
    card = inbox.text[inbox.text.index(f'data-task="{task["id"]}"') :]
    card = card[: card.index("</article>")]
    assert '<option value="done">' in card
    assert "rejected" not in card and "approved" not in card and "Reject" not in card

    # Neither the API nor a hand-made form may reject it: the order is not cancelled.
    url = f"/api/tasks/{task['id']}/complete"
    refused = await api.post(url, json={"outcome": "rejected", "note": "no"}, headers=auth(clerk))
    assert refused.status_code == 422
    assert "completed as done" in refused.json()["detail"]
    page = await staff.post(
        f"/inbox/tasks/{task['id']}/complete",
        {"outcome": "rejected", "note": "no", "confirmed": "yes"},
        headers={"HX-Request": "true"},
    )
    assert "completed as done, not rejected" in page.text
    assert (await api.get(f"/api/orders/{order['number']}")).json()["status"] != "cancelled"

    done = await staff.post(f"/inbox/tasks/{task['id']}/complete", {"outcome": "done"})
    assert done.status_code == 303
    await wait_for_open_task(api, order["number"], "packing")
    await staff.aclose()


async def test_a_rejection_needs_clearance_a_reason_and_a_confirmation(
    api: httpx.AsyncClient, worker
) -> None:
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)], channel="web")
    task = await wait_for_open_task(api, order["number"], "allocation")
    low = await create_employee(api, ["order_desk"], clearance=1)
    desk = await create_employee(api, ["order_desk"], clearance=2)

    url = f"/api/tasks/{task['id']}/complete"
    uncleared = await api.post(
        url, json={"outcome": "rejected", "note": "fraud"}, headers=auth(low)
    )
    assert uncleared.status_code == 403 and "clearance 2" in uncleared.json()["detail"]
    no_reason = await api.post(url, json={"outcome": "rejected"}, headers=auth(desk))
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["detail"]

    staff = await staff_client(api, desk["token"])
    inbox = await staff.get("/inbox?scope=pool")
    assert f'href="/inbox/tasks/{task["id"]}/reject"' in inbox.text
    # The rejection is not taken from the card: the browser goes to the confirmation first.
    unconfirmed = await staff.post(
        f"/inbox/tasks/{task['id']}/complete",
        {"outcome": "rejected", "note": "fraud"},
        headers={"HX-Request": "true"},
    )
    assert unconfirmed.headers["HX-Redirect"] == f"/inbox/tasks/{task['id']}/reject"
    confirm = await staff.get(f"/inbox/tasks/{task['id']}/reject")
    assert confirm.status_code == 200
    assert f"Rejecting cancels order {order['number']}" in confirm.text
    assert (
        'name="confirmed" value="yes"' in confirm.text and '<textarea name="note"' in confirm.text
    )
    assert (await api.get(f"/api/orders/{order['number']}")).json()["status"] != "cancelled"

    rejected = await staff.post(
        f"/inbox/tasks/{task['id']}/complete",
        {"outcome": "rejected", "note": "card reported stolen", "confirmed": "yes"},
    )
    assert rejected.status_code == 303
    final = await wait_for_order(api, order["number"], lambda o: o["status"] == "cancelled")
    assert any("allocation rejected" in e["message"] for e in final["events"])
    completed = (await api.get(f"/api/tasks/{task['id']}")).json()
    assert completed["outcome"] == "rejected" and completed["note"] == "card reported stolen"
    await staff.aclose()


async def test_taking_a_task_away_and_cancelling_ask_for_a_reason(
    api: httpx.AsyncClient, worker
) -> None:
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)], channel="sales_rep")
    task = await wait_for_open_task(api, order["number"], "picking")
    first = await create_employee(api, ["warehouse"])
    second = await create_employee(api, ["warehouse"])
    claimed = await api.post(f"/api/tasks/{task['id']}/claim", headers=auth(first))
    assert claimed.status_code == 200

    boss = await staff_client(api, ADMIN_TOKEN)
    url = f"/inbox/tasks/{task['id']}/reassign"
    asked = await boss.post(url, {"employee_id": str(second["id"])})
    assert asked.status_code == 303
    assert asked.headers["location"] == f"{url}?employee_id={second['id']}"
    confirm = await boss.get(asked.headers["location"])
    assert "Take task" in confirm.text and 'name="reason"' in confirm.text
    assert (await api.get(f"/api/tasks/{task['id']}")).json()["assignee_id"] == first["id"]
    moved = await boss.post(
        url, {"employee_id": str(second["id"]), "reason": "Walter is off sick", "confirmed": "yes"}
    )
    assert moved.status_code == 303
    assert (await api.get(f"/api/tasks/{task['id']}")).json()["assignee_id"] == second["id"]
    audit = (await api.get("/api/audit", params={"entity": "task", "entity_id": task["id"]})).json()
    assert any(e["after"].get("reason") == "Walter is off sick" for e in audit["entries"])

    # Cancelling from the order page needs a reason and the ticked confirmation.
    order_url = f"/orders/{order['number']}/cancel"
    page = await boss.get(f"/orders/{order['number']}")
    assert 'name="confirmed" value="yes" required' in page.text
    refused = await boss.post(order_url, {"reason": "customer called"})
    assert refused.status_code == 422 and "tick the confirmation" in refused.text
    cancelled = await boss.post(order_url, {"reason": "customer called", "confirmed": "yes"})
    assert cancelled.status_code == 303
    await wait_for_order(api, order["number"], lambda o: o["status"] == "cancelled")
    await boss.aclose()


async def test_a_customer_declines_a_quote_only_with_a_reason_and_confirmation(
    api: httpx.AsyncClient, worker, engine
) -> None:
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    open_customer_account(engine, customer["id"], "decline-pass")
    placed = await api.post(
        "/api/orders",
        json={
            "customer_id": customer["id"],
            "lines": [{"sku": product["sku"], "qty": 1}],
            "quote": True,
        },
    )
    assert placed.status_code in (200, 201, 202), placed.text
    number = placed.json()["number"]
    await wait_for_open_task(api, number, "quote")

    client = await customer_client(api, customer["email"], "decline-pass")
    page = await client.get(f"/customer/orders/{number}")
    assert "Decline this quote" in page.text and 'name="reason" required' in page.text
    hasty = await client.post(f"/customer/orders/{number}/quote", {"decision": "decline"})
    assert hasty.status_code == 303
    assert "tell us why" in (await client.get(f"/customer/orders/{number}")).text
    assert (await api.get(f"/api/orders/{number}")).json()["status"] == "quote"
    declined = await client.post(
        f"/customer/orders/{number}/quote",
        {"decision": "decline", "reason": "found it cheaper", "confirmed": "yes"},
    )
    assert declined.status_code == 303
    final = await wait_for_order(api, number, lambda o: o["status"] == "cancelled")
    quote_task = next(t for t in final["tasks"] if t["step"] == "quote")
    answered = (await api.get(f"/api/tasks/{quote_task['id']}")).json()
    assert answered["note"] == "declined in the customer center: found it cheaper"
    await client.aclose()
