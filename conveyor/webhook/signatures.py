"""Webhook signature checks, done on the raw body in constant time before anything is parsed."""

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from conveyor.webhook.connections import StoreConnection


class SignatureError(Exception):
    """The delivery is not signed by any configured store (the message says why, not how)."""


@dataclass(frozen=True)
class StripeSignature:
    timestamp: int
    signatures: tuple[str, ...]


def _b64_hmac_matches(body: bytes, given: str, secrets: Iterable[bytes]) -> bool:
    """True when `given` is the base64 HMAC-SHA256 of `body` under one of `secrets`."""
    try:
        given_digest = base64.b64decode(given.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    matched = False
    for secret in secrets:
        expected = hmac.new(secret, body, hashlib.sha256).digest()
        # Check every secret (no early exit), so timing does not tell which one matched.
        matched |= hmac.compare_digest(expected, given_digest)
    return matched


def verify_base64_hmac(
    body: bytes,
    given: str | None,
    stores: Sequence[StoreConnection],
    *,
    header: str,
    now,
    domain: str | None = None,
) -> StoreConnection:
    """The store whose secret signed `body` (Shopify, WooCommerce); SignatureError if none."""
    if not given:
        raise SignatureError(f"missing {header} header")
    candidates = [s for s in stores if s.matches_domain(domain)]
    if not candidates:
        raise SignatureError("no store is configured for this webhook")
    for store in candidates:
        if _b64_hmac_matches(body, given, store.active_secrets(now)):
            return store
    raise SignatureError(f"{header} does not match")


def parse_stripe_header(value: str) -> StripeSignature:
    """Parse `t=<unix>,v1=<hex>,v1=<hex>,v0=...`; only `v1` (HMAC-SHA256) counts."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in value.split(","):
        key, _, val = item.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(val)
            except ValueError as exc:
                raise SignatureError("Stripe-Signature has a bad timestamp") from exc
        elif key == "v1" and val:
            signatures.append(val.strip())
    if timestamp is None:
        raise SignatureError("Stripe-Signature has no timestamp")
    if not signatures:
        raise SignatureError("Stripe-Signature has no v1 signature")
    return StripeSignature(timestamp=timestamp, signatures=tuple(signatures))


def verify_stripe(
    body: bytes,
    header: str | None,
    stores: Sequence[StoreConnection],
    *,
    now,
    tolerance_seconds: int,
) -> StoreConnection:
    """The account whose secret signed `"<t>.<body>"`; stale or future timestamps are refused."""
    if not header:
        raise SignatureError("missing Stripe-Signature header")
    parsed = parse_stripe_header(header)
    if abs(now.timestamp() - parsed.timestamp) > tolerance_seconds:
        raise SignatureError("Stripe-Signature timestamp is outside the tolerance")
    if not stores:
        raise SignatureError("no Stripe account is configured")
    signed = str(parsed.timestamp).encode() + b"." + body
    for store in stores:
        matched = False
        for secret in store.active_secrets(now):
            expected = hmac.new(secret, signed, hashlib.sha256).hexdigest().encode()
            for given in parsed.signatures:
                matched |= hmac.compare_digest(expected, given.encode())
        if matched:
            return store
    raise SignatureError("Stripe-Signature does not match")


def sign_base64(body: bytes, secret: str) -> str:
    """The Shopify/WooCommerce signature of `body` (for tests, tools and the benchmark)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def sign_stripe(body: bytes, secret: str, timestamp: int) -> str:
    """A `Stripe-Signature` header value for `body` at `timestamp`."""
    signed = str(timestamp).encode() + b"." + body
    return f"t={timestamp},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"
