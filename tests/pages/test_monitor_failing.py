"""Monitor: what keeps failing shows up and can be retried now.

New orders (the v8 workflow) send mail through the outbox, so an SMTP outage shows as e-mail
waiting to go out; orders still running on the v7 code fail their `send_notification` activity,
which is listed from Temporal like any failing activity.
"""

import asyncio
import time

import httpx
import pytest
from sqlalchemy.engine import Engine
from temporalio.client import Client

from conveyor.audit.service import Actor
from conveyor.core import temporal_server
from conveyor.core.db import session_scope
from conveyor.core.settings import Settings
from conveyor.core.temporal import order_workflow_id
from conveyor.order import service as order_service
from conveyor.order.models import OrderCreate, OrderLineCreate
from tests.conftest import ADMIN_TOKEN
from tests.utils.api import create_customer, create_employee, create_product, place_order
from tests.utils.pages import PageClient, staff_client
from workflows.types import SalesOrderInput, SalesOrderNames


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The same settings, with the SMTP server down: every e-mail keeps failing."""
    return settings.model_copy(update={"smtp_port": temporal_server.free_port()})


async def _listed(admin: PageClient, text: str, marker: str) -> str:
    deadline = time.monotonic() + 60
    while True:
        listing = await admin.get("/monitor/failing")
        assert listing.status_code == 200
        if text in listing.text and marker in listing.text:
            return listing.text
        assert time.monotonic() < deadline, listing.text
        await asyncio.sleep(0.5)


async def test_waiting_mail_is_listed_and_retried(api: httpx.AsyncClient, worker) -> None:
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)])
    admin = await staff_client(api, ADMIN_TOKEN)
    listing = await _listed(admin, order["number"], 'data-testid="mail-waiting"')
    waiting = listing.split('data-testid="mail-waiting"', 1)[1]
    assert order["number"] in waiting and "Retry now" in waiting
    message_id = waiting.split('name="message_id" value="', 1)[1].split('"', 1)[0]

    clerk = await create_employee(api, ["order_desk"], clearance=1)
    low = await staff_client(api, clerk["token"])
    refused = await low.post("/monitor/failing/retry-mail", {"message_id": message_id})
    assert "clearance" in refused.text
    retried = await admin.post("/monitor/failing/retry-mail", {"message_id": message_id})
    assert retried.status_code == 200
    assert f"E-mail {message_id} goes out with the next dispatch." in retried.text, retried.text
    await low.aclose()
    await admin.aclose()


async def test_failing_activity_of_a_v7_order_is_listed_and_retried(
    api: httpx.AsyncClient, worker, engine: Engine, settings: Settings, temporal_client: Client
) -> None:
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    # An order placed before the upgrade: its workflow runs the v7 code (type SalesOrderWorkflow).
    with session_scope(engine) as session:
        row = order_service.create(
            session=session,
            order_in=OrderCreate(
                customer_id=customer["id"],
                channel="phone",
                lines=[OrderLineCreate(sku=product["sku"], qty=1)],
            ),
            created_by="test",
            number_prefix=settings.order_number_prefix,
            actor=Actor.cli("test"),
        )
        row.workflow_started = True  # started below, on the old type
        session.add(row)
        number = row.number
    assert number
    await temporal_client.start_workflow(
        SalesOrderNames.LEGACY_WORKFLOW,
        SalesOrderInput(order_number=number),
        id=order_workflow_id(number),
        task_queue=settings.task_queue,
    )
    admin = await staff_client(api, ADMIN_TOKEN)
    listing = await _listed(admin, number, "send_notification")
    assert "Retry now" in listing
    activity_id = listing.split('name="activity_id" value="', 1)[1].split('"', 1)[0]

    clerk = await create_employee(api, ["order_desk"], clearance=1)
    low = await staff_client(api, clerk["token"])
    refused = await low.post(
        "/monitor/failing/retry", {"number": number, "activity_id": activity_id}
    )
    assert "clearance" in refused.text
    retried = await admin.post(
        "/monitor/failing/retry", {"number": number, "activity_id": activity_id}
    )
    assert retried.status_code == 200
    assert "is running again" in retried.text, retried.text
    await low.aclose()
    await admin.aclose()
