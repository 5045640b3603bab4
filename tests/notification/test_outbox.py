"""The outbox: one mail per key however often the send is retried, SMTP outages never lose mail."""

import asyncio
from pathlib import Path

import aiosmtplib
import httpx
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.notification_activities import NotificationActivities
from conveyor.core import temporal_server
from conveyor.core.settings import Settings
from conveyor.notification.mail_sink import start_sink
from conveyor.notification.models import OutboxMessage
from tests.conftest import Mailbox
from tests.utils.api import (
    auth,
    create_customer,
    create_employee,
    create_product,
    place_order,
    wait_for_order,
)
from worker import build_worker
from workflows.types import NotifyInput


async def _wait_for(predicate, timeout: float = 60.0) -> None:
    for _ in range(int(timeout * 10)):
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached in time")


async def test_a_retried_send_mails_once(
    api: httpx.AsyncClient, settings: Settings, engine: Engine, mailbox: Mailbox
) -> None:
    # No worker runs: the order is recorded and its workflow waits, so only this test sends.
    product = await create_product(api, on_hand=5, price="3.00")
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 2)])
    activities = NotificationActivities(engine, settings)
    request = NotifyInput(
        key=f"{order['number']}:confirmation",
        kind="order_confirmation",
        order_number=order["number"],
    )

    first = await ActivityEnvironment().run(activities.send_notification, request)
    again = await ActivityEnvironment().run(activities.send_notification, request)

    assert (first.status, again.status) == ("sent", "already_sent")
    assert first.recipients == [customer["email"]]
    mails = mailbox.to(customer["email"])
    assert len(mails) == 1
    assert mails[0]["Subject"] == f"Order {order['number']} confirmed"
    body = mails[0].get_body(("plain",)).get_content()
    assert "2 x Test product" in body and "6.00 USD" in body
    assert mails[0].get_body(("html",)) is not None
    with Session(engine) as session:
        row = session.exec(select(OutboxMessage).where(OutboxMessage.key == request.key)).one()
    assert (row.status, row.attempts) == ("sent", 1)


async def test_smtp_down_neither_blocks_the_order_nor_loses_mail(
    api: httpx.AsyncClient,
    settings: Settings,
    engine: Engine,
    temporal_client: Client,
) -> None:
    # The worker mails to a port where nothing listens yet.
    port = temporal_server.free_port()
    worker_settings = settings.model_copy(update={"smtp_port": port})
    product = await create_product(api, on_hand=5, price="5.00")
    customer = await create_customer(api)
    async with build_worker(temporal_client, engine, worker_settings):
        order = await place_order(
            api, customer["id"], [(product["sku"], 1)], channel="sales_rep", prepaid=True
        )
        await wait_for_order(api, order["number"], lambda o: o["status"] == "completed")
        with Session(engine) as session:
            pending = session.exec(
                select(OutboxMessage).where(OutboxMessage.order_number == order["number"])
            ).all()
        assert pending and all(m.status == "pending" for m in pending)
        # Every message has been refused at least once before the relay comes up.
        await _wait_for(lambda: _fewest_attempts(engine, order["number"]) > 0)

        mailbox = Mailbox()
        controller = Controller(mailbox, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            kinds = {"confirmed", "shipped", "invoice", "payment"}
            await _wait_for(lambda: len(mailbox.to(customer["email"])) >= len(kinds), timeout=90)
            await asyncio.sleep(1)
        finally:
            controller.stop()
    subjects = [m["Subject"].lower() for m in mailbox.to(customer["email"])]
    assert len(subjects) == len(kinds), subjects
    for kind in kinds:
        assert len([s for s in subjects if kind in s]) == 1, (kind, subjects)
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxMessage).where(OutboxMessage.order_number == order["number"])
        ).all()
    assert {r.status for r in rows} == {"sent"}
    assert all(r.attempts >= 2 for r in rows)  # failed at least once, then sent


def _fewest_attempts(engine: Engine, number: str) -> int:
    with Session(engine) as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.order_number == number))
        return min((r.attempts for r in rows), default=0)


async def test_outbox_api_lists_sent_mail_for_admins_only(
    api: httpx.AsyncClient, worker, mailbox: Mailbox
) -> None:
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    order = await place_order(
        api, customer["id"], [(product["sku"], 1)], channel="sales_rep", prepaid=True
    )
    await wait_for_order(api, order["number"], lambda o: o["status"] == "completed")
    await _wait_for(lambda: len(mailbox.to(customer["email"])) >= 4)

    async def sent() -> dict:
        answer = await api.get(f"/api/outbox?order_number={order['number']}&status=sent")
        assert answer.status_code == 200, answer.text
        return answer.json()

    for _ in range(50):
        listing = await sent()
        if listing["count"] == 4:
            break
        await asyncio.sleep(0.1)
    assert listing["count"] == 4
    assert {m["kind"] for m in listing["data"]} == {
        "order_confirmation",
        "order_shipped",
        "invoice_issued",
        "payment_received",
    }
    assert all(m["recipients"] == customer["email"] for m in listing["data"])
    clerk = await create_employee(api, ["order_desk"])
    assert (await api.get("/api/outbox", headers=auth(clerk))).status_code == 403
    assert (await api.get("/api/outbox?status=lost")).status_code == 422


async def test_the_dev_mail_sink_keeps_every_message(tmp_path: Path) -> None:
    port = temporal_server.free_port()
    controller = start_sink(tmp_path / "mail", host="127.0.0.1", port=port)
    try:
        await aiosmtplib.send(
            "Subject: hello\r\n\r\nbody\r\n",
            sender="conveyor@localhost",
            recipients=["someone@example.com"],
            hostname="127.0.0.1",
            port=port,
        )
    finally:
        controller.stop()
    kept = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(kept) == 1
    assert b"Subject: hello" in kept[0].read_bytes()
