"""Quotes: the order stays a quote until accepted, and expires by a durable timer.

A quote is mailed to the customer, reminded before it expires, and accepting one quote of an
opportunity voids the others.
"""

import asyncio
from pathlib import Path

import httpx
import pytest

from conveyor.core.settings import Settings
from tests.conftest import RULES, Mailbox
from tests.utils.api import (
    create_customer,
    create_product,
    place_order,
    wait_for_open_task,
    wait_for_order,
)


@pytest.fixture
def rules_dir() -> Path:
    """The quote step is a task for sales."""
    return RULES / "quote_task"


@pytest.fixture
def quote_validity() -> float:
    """Seconds a quote stays valid: three, for the tests that wait for one to expire."""
    return 3.0


@pytest.fixture
def settings(settings: Settings, quote_validity: float) -> Settings:
    """Quotes valid for `quote_validity` seconds, reminded one second before they expire."""
    return settings.model_copy(
        update={"quote_validity_seconds": quote_validity, "quote_reminder_before_seconds": 1.0}
    )


async def test_accepted_quote_becomes_the_order(api: httpx.AsyncClient, worker) -> None:
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 2)], prepaid=True)
    task = await wait_for_open_task(api, order["number"], "quote")
    assert (await api.get(f"/api/orders/{order['number']}")).json()["status"] == "quote"
    quotes = (await api.get("/api/orders", params={"status": "quote"})).json()
    assert order["number"] in [o["number"] for o in quotes["data"]]
    accepted = await api.post(f"/api/tasks/{task['id']}/complete", json={"outcome": "approved"})
    assert accepted.status_code == 200
    final = await wait_for_order(api, order["number"], lambda o: o["status"] == "completed")
    kinds = [e["kind"] for e in final["events"]]
    assert kinds.index("quote_sent") < kinds.index("quote_accepted")


async def test_unanswered_quote_expires_and_cancels(api: httpx.AsyncClient, worker) -> None:
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 2)])
    task = await wait_for_open_task(api, order["number"], "quote")
    final = await wait_for_order(
        api, order["number"], lambda o: o["status"] == "cancelled", timeout=30
    )
    assert "expired" in final["events"][-1]["message"]
    kinds = [e["kind"] for e in final["events"]]
    assert kinds.index("quote_sent") < kinds.index("quote_expiring") < kinds.index("cancelled")
    assert [t["status"] for t in final["tasks"] if t["id"] == task["id"]] == ["cancelled"]
    late = await api.post(f"/api/tasks/{task['id']}/complete", json={})
    assert late.status_code == 409


async def _mails(mailbox: Mailbox, address: str, subject_part: str, count: int) -> list:
    for _ in range(200):
        found = [m for m in mailbox.to(address) if subject_part in m["Subject"]]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"{count} x '{subject_part}' to {address}: {mailbox.messages}")


async def test_quote_is_mailed_and_reminded_before_expiry(
    api: httpx.AsyncClient, worker, mailbox: Mailbox
) -> None:
    product = await create_product(api, on_hand=5, price="40.00")
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 2)])
    number = order["number"]
    sent = await _mails(mailbox, customer["email"], f"Your quote {number}", 1)
    assert "80.00 USD" in sent[0].get_body(("plain",)).get_content()
    assert "valid until" in sent[0].get_body(("plain",)).get_content()
    await wait_for_order(api, number, lambda o: o["status"] == "cancelled", timeout=30)
    expiring = await _mails(mailbox, customer["email"], "expires soon", 1)
    assert len(expiring) == 1
    await _mails(mailbox, customer["email"], "cancelled", 1)
    subjects = sorted(m["Subject"] for m in mailbox.to(customer["email"]))
    assert subjects == [  # the quote, its reminder and the notice, nothing more
        f"Order {number} cancelled",
        f"Your quote {number}",
        f"Your quote {number} expires soon",
    ]


# Three quotes wait for their tasks before one is accepted: on a busy machine that outlasts 3 s.
@pytest.mark.parametrize("quote_validity", [120.0])
async def test_accepting_one_quote_voids_its_siblings(
    api: httpx.AsyncClient, settings: Settings, worker
) -> None:
    product = await create_product(api, on_hand=50, price="10.00")
    customer = await create_customer(api)
    other = await create_customer(api)
    small, large = [
        await place_order(api, customer["id"], [(product["sku"], qty)], opportunity="OPP-7")
        for qty in (5, 20)
    ]
    unrelated = await place_order(api, other["id"], [(product["sku"], 1)], opportunity="OPP-7")
    assert large["opportunity"] == "OPP-7"
    same = (await api.get("/api/orders", params={"opportunity": "OPP-7"})).json()
    assert same["count"] == 3
    task = await wait_for_open_task(api, large["number"], "quote")
    await wait_for_open_task(api, small["number"], "quote")
    await wait_for_open_task(api, unrelated["number"], "quote")
    accepted = await api.post(f"/api/tasks/{task['id']}/complete", json={"outcome": "approved"})
    assert accepted.status_code == 200, accepted.text

    voided = await wait_for_order(api, small["number"], lambda o: o["status"] == "cancelled")
    assert f"{large['number']} was accepted" in voided["events"][-1]["message"]
    going = await wait_for_order(
        api, large["number"], lambda o: any(e["kind"] == "quote_voided" for e in o["events"])
    )
    assert going["status"] != "cancelled"
    assert (await api.get(f"/api/orders/{unrelated['number']}")).json()["status"] == "quote"
