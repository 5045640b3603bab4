"""Several stores from the secrets file: rotation, store-scoped references, prepaid stores."""

import json
from pathlib import Path

import httpx
import pytest

from conveyor.core.settings import Settings
from tests.utils.api import create_product, wait_for_order
from tests.webhook.conftest import SHOPIFY_ID, post_shopify, shopify_order

EU = "eu-shop.myshopify.com"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """Beside the one-variable store `shopify`: a prepaid EU shop in the middle of a rotation."""
    path = tmp_path / "webhooks.yaml"
    path.write_text(
        "stores:\n"
        "  - name: eu-shop\n"
        "    kind: shopify\n"
        f"    domain: {EU}\n"
        "    prepaid: true\n"
        "    secrets:\n"
        "      - eu-new-secret\n"
        "      - {value: eu-old-secret, not_after: 2999-01-01T00:00:00Z}\n"
        "      - {value: eu-retired-secret, not_after: 2020-01-01T00:00:00Z}\n"
    )
    return settings.model_copy(update={"webhook_secrets_file": path})


def _paid(order_id: str = SHOPIFY_ID, status: str = "paid", email: str | None = None) -> bytes:
    order = json.loads(shopify_order(order_id))
    order["financial_status"] = status
    if email:
        order["email"] = order["contact_email"] = order["customer"]["email"] = email
    order["cancelled_at"] = order["cancel_reason"] = None  # the sample is oddly cancelled
    return json.dumps(order).encode()


async def test_two_stores_rotation_and_prepaid_orders(api: httpx.AsyncClient, worker) -> None:
    for sku in ("SKU2006-001", "SKU2006-020", "SKU2006-035"):
        await create_product(api, sku=sku, on_hand=20)

    retired = await post_shopify(api, _paid(), secret="eu-retired-secret", domain=EU)
    assert retired.status_code == 401  # its grace period is over
    eu = await post_shopify(api, _paid(), secret="eu-old-secret", domain=EU)
    assert eu.status_code == 200, eu.text
    # The same store order id from the other store is another order. (Its customer has
    # another e-mail: the EU shop's customer is not the other store's to use.)
    other = await post_shopify(api, _paid(email="jon@other-shop.example.com"))
    assert other.status_code == 200, other.text
    assert eu.json()["order_number"] != other.json()["order_number"]
    eu_order = await wait_for_order(
        api, eu.json()["order_number"], lambda o: o["status"] == "completed"
    )
    assert eu_order["external_ref"] == f"eu-shop:{SHOPIFY_ID}"
    assert eu_order["totals"]["paid"] == "359.97"  # prepaid store: no payment webhook needed
    not_prepaid = await wait_for_order(
        api, other.json()["order_number"], lambda o: o["current_step"] == "collection"
    )
    assert not_prepaid["external_ref"] == f"shopify:{SHOPIFY_ID}"

    # A pending order of the prepaid store completes when the store reports it paid.
    later = "820982911946154600"
    pending = await post_shopify(api, _paid(later, "pending"), secret="eu-new-secret", domain=EU)
    number = pending.json()["order_number"]
    await wait_for_order(api, number, lambda o: o["current_step"] == "collection")
    paid = await post_shopify(
        api, _paid(later), topic="orders/paid", secret="eu-new-secret", domain=EU
    )
    assert paid.status_code == 200, paid.text
    assert "paid at the store" in paid.json()["detail"]
    done = await wait_for_order(api, number, lambda o: o["status"] == "completed")
    assert done["totals"]["paid"] == "359.97"
