"""The order page's head (status and current step) follows the order without a reload (issue
14, item 10): the timeline it polls carries the head's pills out of band, so a payment recorded
elsewhere, or a task finished in the inbox, shows on an open order page."""

from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, RULES
from tests.utils.api import create_customer, create_product, place_order, wait_for_order
from tests.utils.pages import staff_client

OOB = '<span class="order-pills" id="order-pills" hx-swap-oob="true">'


@pytest.fixture
def rules_dir() -> Path:
    """Every step automatic: an order runs to collection and waits for its money."""
    return RULES / "all_auto"


async def test_the_polled_timeline_refreshes_the_head_pills(api: httpx.AsyncClient, worker) -> None:
    product = await create_product(api, on_hand=5, price="40.00")
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)], channel="phone")
    number = order["number"]
    running = await wait_for_order(api, number, lambda o: o["current_step"] == "collection")

    staff = await staff_client(api, ADMIN_TOKEN)
    page = await staff.get(f"/orders/{number}")
    assert 'id="order-pills"' in page.text and OOB not in page.text  # in place on the page
    before = await staff.get(f"/orders/{number}/timeline", headers={"HX-Request": "true"})
    pills = before.text[before.text.index(OOB) :]
    assert f'data-testid="order-status">{running["status"]}<' in pills
    assert 'data-testid="current-step">collection<' in pills

    paid = await api.post(
        f"/api/orders/{number}/payments",
        json={"amount": running["totals"]["balance"], "method": "card"},
    )
    assert paid.status_code == 201, paid.text
    await wait_for_order(api, number, lambda o: o["status"] == "completed")
    after = await staff.get(f"/orders/{number}/timeline", headers={"HX-Request": "true"})
    pills = after.text[after.text.index(OOB) :]
    assert 'data-testid="order-status">completed<' in pills
    assert 'data-testid="current-step">collection<' not in pills
    await staff.aclose()
