"""Signature checks and store connections: rotation, several stores, Stripe's scheme."""

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from conveyor.core.settings import Settings
from conveyor.webhook import connections
from conveyor.webhook.connections import StoreConnection, StoreSecret
from conveyor.webhook.signatures import (
    SignatureError,
    sign_base64,
    sign_stripe,
    verify_base64_hmac,
    verify_stripe,
)

BODY = b'{"id": 820982911946154508}'
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _store(name: str, *secrets: StoreSecret | str, domain: str | None = None) -> StoreConnection:
    return StoreConnection.model_validate(
        {"name": name, "kind": "shopify", "secrets": list(secrets), "domain": domain}
    )


def test_rotation_accepts_old_secret_until_its_grace_period_ends() -> None:
    store = _store(
        "shop",
        "new-secret",
        StoreSecret(value=SecretStr("old-secret"), not_after=NOW + timedelta(days=1)),
    )
    for secret in ("new-secret", "old-secret"):
        signed = sign_base64(BODY, secret)
        assert verify_base64_hmac(BODY, signed, [store], header="h", now=NOW) is store
    later = NOW + timedelta(days=2)
    with pytest.raises(SignatureError):
        verify_base64_hmac(BODY, sign_base64(BODY, "old-secret"), [store], header="h", now=later)
    assert verify_base64_hmac(BODY, sign_base64(BODY, "new-secret"), [store], header="h", now=later)


def test_several_stores_are_told_apart_by_secret_and_domain() -> None:
    eu = _store("eu", "eu-secret", domain="eu-shop.myshopify.com")
    us = _store("us", "us-secret", domain="https://us-shop.myshopify.com/")
    stores = [eu, us]
    assert (
        verify_base64_hmac(BODY, sign_base64(BODY, "us-secret"), stores, header="h", now=NOW) is us
    )
    signed_eu = sign_base64(BODY, "eu-secret")
    assert (
        verify_base64_hmac(
            BODY, signed_eu, stores, header="h", now=NOW, domain="eu-shop.myshopify.com"
        )
        is eu
    )
    with pytest.raises(SignatureError):  # the EU secret does not sign for the US domain
        verify_base64_hmac(
            BODY, signed_eu, stores, header="h", now=NOW, domain="us-shop.myshopify.com"
        )


def test_malformed_or_missing_signatures_are_refused() -> None:
    store = _store("shop", "secret")
    for given in (None, "", "not base64 !!", sign_base64(BODY + b" ", "secret")):
        with pytest.raises(SignatureError):
            verify_base64_hmac(BODY, given, [store], header="h", now=NOW)


def test_stripe_accepts_any_v1_and_refuses_stale_or_future_timestamps() -> None:
    account = StoreConnection.model_validate(
        {"name": "stripe", "kind": "stripe", "secrets": ["whsec_new", "whsec_old"]}
    )
    now = datetime.now(UTC)
    stamp = int(time.time())
    old = sign_stripe(BODY, "whsec_old", stamp)
    header = f"t={stamp},v1={'0' * 64},{old.split(',')[1]},v0=ignored"
    assert verify_stripe(BODY, header, [account], now=now, tolerance_seconds=300) is account
    for when in (stamp - 301, stamp + 301):
        with pytest.raises(SignatureError, match="tolerance"):
            verify_stripe(
                BODY,
                sign_stripe(BODY, "whsec_new", when),
                [account],
                now=now,
                tolerance_seconds=300,
            )
    for bad in ("v1=abc", f"t={stamp}", "t=soon,v1=abc", ""):
        with pytest.raises(SignatureError):
            verify_stripe(BODY, bad, [account], now=now, tolerance_seconds=300)


def test_secrets_file_adds_stores_and_env_secrets_add_one_per_provider(tmp_path: Path) -> None:
    path = tmp_path / "webhooks.yaml"
    path.write_text(
        "stores:\n"
        "  - name: eu-shop\n"
        "    kind: shopify\n"
        "    domain: eu-shop.myshopify.com\n"
        "    secrets:\n"
        "      - new-secret\n"
        "      - {value: old-secret, not_after: 2026-12-01T00:00:00Z}\n"
        "  - {name: woo, kind: woocommerce, secrets: [woo-secret], channel: customer_center}\n"
    )
    settings = Settings(
        webhook_secrets_file=path,
        shopify_secret=SecretStr("plain-shopify"),
        stripe_secret=SecretStr("whsec_x"),
    )
    stores = {s.name: s for s in connections.load(settings)}
    assert set(stores) == {"eu-shop", "woo", "shopify", "stripe"}
    assert stores["woo"].channel == "customer_center"
    assert len(stores["eu-shop"].secrets) == 2
    assert "secret" not in repr(stores["eu-shop"])  # never printed
    assert "plain-shopify" not in repr(settings)
    path.write_text("stores: [{name: broken, kind: shopify, secrets: [top-secret], channel: x}]\n")
    with pytest.raises(connections.ConnectionsError) as error:
        connections.load(settings.model_copy())
    assert "stores.0.channel" in str(error.value)
    assert "top-secret" not in str(error.value)  # errors name fields, never values
