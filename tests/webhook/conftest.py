"""Webhook test helpers: settings with test secrets, provider samples, signed posts."""

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from conveyor.core.settings import Settings
from conveyor.webhook.signatures import sign_base64, sign_stripe

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
SHOPIFY_SECRET = "shopify-test-secret-0123456789"
WOO_SECRET = "woocommerce-test-secret-0123"
STRIPE_SECRET = "whsec_test_0123456789abcdef"
SHOPIFY_ID = "820982911946154508"  # the sample's order id: above 2^53


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared test settings plus one secret per provider."""
    return settings.model_copy(
        update={
            "shopify_secret": SecretStr(SHOPIFY_SECRET),
            "woocommerce_secret": SecretStr(WOO_SECRET),
            "stripe_secret": SecretStr(STRIPE_SECRET),
        }
    )


def sample(name: str) -> bytes:
    """A provider's documented sample payload, byte for byte."""
    return (SAMPLES / name).read_bytes()


def shopify_order(order_id: str = SHOPIFY_ID) -> bytes:
    """The Shopify orders/create sample, with another order id if asked."""
    return sample("shopify_orders_create.json").replace(SHOPIFY_ID.encode(), order_id.encode())


def woocommerce_order(modified: datetime | None = None) -> bytes:
    """The WooCommerce order sample, modified (`date_modified_gmt`) now or at `modified`."""
    when = (modified or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return sample("woocommerce_order_created.json").replace(
        b'"date_modified_gmt": "2017-03-22T19:28:08"', f'"date_modified_gmt": "{when}"'.encode()
    )


async def post_shopify(
    api: httpx.AsyncClient,
    body: bytes,
    *,
    topic: str = "orders/create",
    secret: str = SHOPIFY_SECRET,
    webhook_id: str | None = None,
    signature: str | None = None,
    domain: str = "jsmith.myshopify.com",
    triggered_at: datetime | None = None,
) -> httpx.Response:
    """POST /webhooks/shopify signed as Shopify signs: a new delivery (webhook id) each time
    unless `webhook_id` repeats one, triggered now unless `triggered_at` says otherwise."""
    triggered = (triggered_at or datetime.now(UTC)).astimezone(UTC)
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": domain,
        "X-Shopify-API-Version": "2025-10",
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": triggered.isoformat(timespec="microseconds").replace(
            "+00:00", "Z"
        ),
        "X-Shopify-Hmac-Sha256": signature if signature is not None else sign_base64(body, secret),
    }
    if signature == "":
        del headers["X-Shopify-Hmac-Sha256"]
    return await api.post("/webhooks/shopify", content=body, headers=headers)


async def post_woocommerce(
    api: httpx.AsyncClient, body: bytes, *, topic: str = "order.created", secret: str = WOO_SECRET
) -> httpx.Response:
    """POST /webhooks/woocommerce signed as WooCommerce signs."""
    return await api.post(
        "/webhooks/woocommerce",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-WC-Webhook-Source": "https://example.com/",
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": topic.split(".")[0],
            "X-WC-Webhook-Event": topic.split(".")[-1],
            "X-WC-Webhook-ID": "12",
            "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex,
            "X-WC-Webhook-Signature": sign_base64(body, secret),
        },
    )


async def post_stripe(
    api: httpx.AsyncClient,
    body: bytes,
    *,
    secret: str = STRIPE_SECRET,
    timestamp: int | None = None,
) -> httpx.Response:
    """POST /webhooks/stripe with a Stripe-Signature header."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return await api.post(
        "/webhooks/stripe",
        content=body,
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": sign_stripe(body, secret, stamp),
        },
    )
