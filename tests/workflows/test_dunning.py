"""Collection sends payment reminders on the dunning schedule, and stops once paid."""

import asyncio

import httpx
import pytest

from conveyor.core.settings import Settings
from tests.conftest import Mailbox
from tests.utils.api import create_customer, create_product, place_order, wait_for_order


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Reminders 1 s and 2.5 s after the due date (7, 14, 30 days in production)."""
    return settings.model_copy(update={"dunning_schedule_seconds": [1.0, 2.5]})


async def test_reminders_on_schedule_then_paid(
    api: httpx.AsyncClient, worker, mailbox: Mailbox
) -> None:
    product = await create_product(api, on_hand=5, price="12.00")
    customer = await create_customer(api, payment_terms_days=0)  # due on issue: dunned at once
    order = await place_order(api, customer["id"], [(product["sku"], 2)], channel="sales_rep")
    number = order["number"]

    reminded = await wait_for_order(
        api,
        number,
        lambda o: sum(e["kind"] == "payment_reminder" for e in o["events"]) == 2,
        timeout=30,
    )
    events = reminded["events"]
    invoiced_at = next(e["at"] for e in events if e["kind"] == "invoiced")
    reminders = [e for e in events if e["kind"] == "payment_reminder"]
    assert [r["message"] for r in reminders] == [
        "payment reminder 1: 24.00 still due",
        "payment reminder 2: 24.00 still due",
    ]
    assert all(r["at"] > invoiced_at for r in reminders)
    for _ in range(100):
        overdue = [m for m in mailbox.to(customer["email"]) if "overdue" in m["Subject"].lower()]
        if len(overdue) == 2:
            break
        await asyncio.sleep(0.1)
    assert sorted(m["Subject"] for m in overdue) == [
        f"Overdue: order {number}, reminder 1",
        f"Overdue: order {number}, reminder 2",
    ]
    assert "24.00 USD" in overdue[0].get_body(("plain",)).get_content()

    paid = await api.post(f"/api/orders/{number}/payments", json={"amount": "24.00"})
    assert paid.status_code == 201, paid.text
    done = await wait_for_order(api, number, lambda o: o["status"] == "completed")
    assert sum(e["kind"] == "payment_reminder" for e in done["events"]) == 2


async def test_partial_payment_lowers_the_amount_reminded(
    api: httpx.AsyncClient, worker, mailbox: Mailbox
) -> None:
    product = await create_product(api, on_hand=5, price="10.00")
    customer = await create_customer(api, payment_terms_days=0)  # due on issue: dunned at once
    order = await place_order(api, customer["id"], [(product["sku"], 3)], channel="sales_rep")
    number = order["number"]
    await wait_for_order(
        api, number, lambda o: any(e["kind"] == "payment_reminder" for e in o["events"])
    )
    assert (
        await api.post(f"/api/orders/{number}/payments", json={"amount": "10.00"})
    ).status_code == 201
    second = await wait_for_order(
        api,
        number,
        lambda o: sum(e["kind"] == "payment_reminder" for e in o["events"]) == 2,
        timeout=30,
    )
    messages = [e["message"] for e in second["events"] if e["kind"] == "payment_reminder"]
    assert messages == [
        "payment reminder 1: 30.00 still due",
        "payment reminder 2: 20.00 still due",
    ]
