"""SLA timers remind, then escalate or reassign; every event mails exactly one message."""

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.conftest import RULES, Mailbox
from tests.utils.api import (
    auth,
    create_customer,
    create_employee,
    create_product,
    place_order,
    wait_for_order,
)


@pytest.fixture
def rules_dir() -> Path:
    """Allocation task with a 2 s SLA: reminder at 1 s, escalation (phone) or reassign at 2 s."""
    return RULES / "sla"


async def _wait_for_mail(mailbox: Mailbox, address: str, subject_part: str, count: int = 1) -> list:
    for _ in range(300):
        found = [m for m in mailbox.to(address) if subject_part.lower() in m["Subject"].lower()]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    subjects = [(m["To"], m["Subject"]) for m in mailbox.messages]
    raise AssertionError(f"no mail '{subject_part}' to {address}; got {subjects}")


async def _clocked_in(api: httpx.AsyncClient, roles: list[str]) -> dict:
    person = await create_employee(api, roles)
    await api.post(f"/api/employees/{person['id']}/clock-in", headers=auth(person))
    return person


async def test_reminder_then_escalation_to_supervisor(
    api: httpx.AsyncClient, worker, mailbox: Mailbox
) -> None:
    desk = await _clocked_in(api, ["order_desk"])
    boss = await _clocked_in(api, ["supervisor"])
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)], channel="phone")
    number = order["number"]

    escalated = await wait_for_order(
        api, number, lambda o: any(e["kind"] == "escalated" for e in o["events"]), timeout=30
    )
    kinds = [e["kind"] for e in escalated["events"]]
    assert kinds.index("sla_reminder") < kinds.index("escalated")
    task = escalated["tasks"][0]
    assert (task["role"], task["assignee_id"]) == ("supervisor", boss["id"])
    await _wait_for_mail(mailbox, desk["email"], "new task")
    await _wait_for_mail(mailbox, desk["email"], "reminder")
    await _wait_for_mail(mailbox, boss["email"], "escalated")

    done = await api.post(f"/api/tasks/{task['id']}/complete", json={}, headers=auth(boss))
    assert done.status_code == 200, done.text
    await wait_for_order(api, number, lambda o: o["current_step"] == "collection")
    await asyncio.sleep(0.5)
    for address, part in ((desk["email"], "reminder"), (boss["email"], "escalated")):
        assert len([m for m in mailbox.to(address) if part in m["Subject"].lower()]) == 1


async def test_reassign_after_sla_goes_to_someone_else_on_duty(
    api: httpx.AsyncClient, worker, mailbox: Mailbox
) -> None:
    first = await _clocked_in(api, ["order_desk"])
    second = await _clocked_in(api, ["order_desk"])
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)], channel="sales_rep")
    reassigned = await wait_for_order(
        api,
        order["number"],
        lambda o: any(e["kind"] == "escalated" for e in o["events"]),
        timeout=30,
    )
    task = reassigned["tasks"][0]
    original = next(e for e in reassigned["events"] if e["kind"] == "task_created")["message"]
    new_owner = second if first["email"] in original else first
    assert task["assignee_id"] == new_owner["id"]
    await _wait_for_mail(mailbox, new_owner["email"], "escalated")


async def test_customer_mails_once_per_event(
    api: httpx.AsyncClient, worker, mailbox: Mailbox
) -> None:
    desk = await _clocked_in(api, ["order_desk"])
    product = await create_product(api, on_hand=5, price="7.25")
    customer = await create_customer(api)
    order = await place_order(
        api, customer["id"], [(product["sku"], 2)], channel="sales_rep", prepaid=True
    )
    task = (await wait_for_order(api, order["number"], lambda o: bool(o["tasks"])))["tasks"][0]
    assert (
        await api.post(f"/api/tasks/{task['id']}/complete", json={}, headers=auth(desk))
    ).status_code == 200
    await wait_for_order(api, order["number"], lambda o: o["status"] == "completed")
    for part in ("confirm", "shipped", "invoice", "payment"):
        mails = await _wait_for_mail(mailbox, customer["email"], part)
        assert len(mails) == 1, part
    invoice_mail = (await _wait_for_mail(mailbox, customer["email"], "invoice"))[0]
    assert "14.50" in invoice_mail.get_body(("plain",)).get_content()
    assert order["number"] in invoice_mail.get_body(("plain",)).get_content()
