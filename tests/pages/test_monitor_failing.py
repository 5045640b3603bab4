"""Monitor: activities that keep failing show up from Temporal and can be retried now."""

import asyncio
import time

import httpx
import pytest

from conveyor.core import temporal_server
from conveyor.core.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.utils.api import create_customer, create_employee, create_product, place_order
from tests.utils.pages import staff_client


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The same settings, with the SMTP server down: every e-mail activity keeps failing."""
    return settings.model_copy(update={"smtp_port": temporal_server.free_port()})


async def test_failing_mail_activity_is_listed_and_retried(api: httpx.AsyncClient, worker) -> None:
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)])
    admin = await staff_client(api, ADMIN_TOKEN)
    deadline = time.monotonic() + 60
    while True:
        listing = await admin.get("/monitor/failing")
        assert listing.status_code == 200
        if order["number"] in listing.text:
            break
        assert time.monotonic() < deadline, listing.text
        await asyncio.sleep(0.5)
    assert "send_notification" in listing.text and "Retry now" in listing.text
    activity_id = listing.text.split('name="activity_id" value="', 1)[1].split('"', 1)[0]

    clerk = await create_employee(api, ["order_desk"], clearance=1)
    low = await staff_client(api, clerk["token"])
    refused = await low.post(
        "/monitor/failing/retry", {"number": order["number"], "activity_id": activity_id}
    )
    assert "clearance" in refused.text
    retried = await admin.post(
        "/monitor/failing/retry", {"number": order["number"], "activity_id": activity_id}
    )
    assert retried.status_code == 200
    assert "is running again" in retried.text, retried.text
    await low.aclose()
    await admin.aclose()
