"""Temporal unreachable: the store order is still recorded and answered; the sweep starts it."""

import httpx
from temporalio.client import Client

from api.main import create_app
from conveyor.core import temporal_server
from conveyor.core.settings import Settings
from conveyor.order import flows as order_flows
from tests.conftest import ADMIN_TOKEN
from tests.utils.api import create_product, wait_for_order
from tests.webhook.conftest import post_shopify, shopify_order


async def test_order_recorded_while_temporal_is_down_starts_later(
    settings: Settings, temporal_client: Client, worker
) -> None:
    down = settings.model_copy(
        update={"temporal_address": f"127.0.0.1:{temporal_server.free_port()}"}
    )
    app = create_app(down)  # its Temporal client cannot connect
    state = app.state.conveyor
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://conveyor.test",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=60,
    ) as api:
        for sku in ("SKU2006-001", "SKU2006-020", "SKU2006-035"):
            await create_product(api, sku=sku, on_hand=5)
        response = await post_shopify(api, shopify_order())
        assert response.status_code == 200, response.text
        assert response.json()["outcome"] == "processed"
        number = response.json()["order_number"]
        order = (await api.get(f"/api/orders/{number}")).json()
        assert order["current_step"] is None and order["events"][0]["kind"] == "received"

        state._client = temporal_client  # Temporal is back
        assert await order_flows.start_pending_workflows(state, older_than_seconds=0) == 1
        await wait_for_order(api, number, lambda o: o["current_step"] == "collection")
        again = await post_shopify(api, shopify_order())
        assert again.json()["outcome"] == "duplicate"
        assert await order_flows.start_pending_workflows(state, older_than_seconds=0) == 0
    state.engine.dispose()
