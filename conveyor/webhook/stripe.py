"""Stripe: the event envelope and the mapping of payments and refunds."""

from decimal import Decimal
from typing import Any

from conveyor.core.models import round_money
from conveyor.webhook.payloads import (
    PayloadError,
    PaymentIn,
    currency,
    ident,
    obj,
    opt_obj,
    parse_json,
    text,
)

SIGNATURE_HEADER = "stripe-signature"
PAYMENT_EVENTS = ("payment_intent.succeeded", "checkout.session.completed")
REFUND_EVENTS = ("charge.refunded",)
# Amounts are in the currency's smallest unit; these have none or three decimals.
ZERO_DECIMAL = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())
# Metadata keys a shop or checkout puts the order under.
NUMBER_KEYS = ("conveyor_order", "order_number")
EXTERNAL_KEYS = ("order_id", "external_id", "shopify_order_id", "woocommerce_order_id")


def envelope(payload: Any) -> tuple[str, str, dict[str, Any]]:
    """(event id, event type, data.object) of an event; PayloadError when it is not one."""
    event = obj(payload, "the event")
    event_id = ident(event.get("id"), "id")
    event_type = text(event.get("type"), 64)
    if not event_type:
        raise PayloadError("type is missing")
    data = obj(event.get("data"), "data")
    return event_id, event_type, obj(data.get("object"), "data.object")


def event_id(body: bytes) -> str | None:
    """The event id of a (signed) body, the key a Stripe delivery is stored once under."""
    try:
        return ident(obj(parse_json(body), "the event").get("id"), "id")
    except PayloadError:
        return None  # answered as malformed further on


def _amount(value: Any, code: str, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{name} must be an integer amount in minor units")
    if code in ZERO_DECIMAL:
        return round_money(Decimal(value))
    exponent = 3 if code in THREE_DECIMAL else 2
    return round_money(Decimal(value).scaleb(-exponent))


def _metadata(thing: dict[str, Any]) -> tuple[str | None, list[str]]:
    metadata = opt_obj(thing.get("metadata"))
    number = next((text(metadata[k], 32) for k in NUMBER_KEYS if text(metadata.get(k))), None)
    externals = [
        text(str(metadata[k]), 64) for k in EXTERNAL_KEYS if metadata.get(k) not in (None, "")
    ]
    return number, externals


def map_payment(event_type: str, thing: dict[str, Any]) -> PaymentIn | None:
    """The payment a succeeded PaymentIntent or a paid Checkout Session reports; None if unpaid."""
    code = currency(thing.get("currency"))
    number, externals = _metadata(thing)
    if event_type == "checkout.session.completed":
        if thing.get("payment_status") not in ("paid", "no_payment_required"):
            return None  # asynchronous methods settle later, as payment_intent.succeeded
        session_id = ident(thing.get("id"), "data.object.id")
        intent = text(thing.get("payment_intent"), 200) or None
        reference = intent or session_id
        amount = _amount(thing.get("amount_total"), code, "amount_total")
        number = number or (text(thing.get("client_reference_id"), 32) or None)
        refs = [r for r in (intent, session_id) if r]
    else:
        reference = ident(thing.get("id"), "data.object.id")
        received = thing.get("amount_received")
        amount = _amount(received if received is not None else thing.get("amount"), code, "amount")
        refs = [r for r in (reference, text(thing.get("latest_charge"), 200)) if r]
    return PaymentIn(
        kind="payment",
        # One payment per PaymentIntent, whichever of its events arrives (or arrives again).
        key=f"stripe:payment:{reference}",
        amount=amount,
        currency=code,
        reference=reference,
        order_number=number,
        external_ids=externals,
        payment_refs=refs,
    )


def map_refund(event_id: str, charge: dict[str, Any]) -> PaymentIn:
    """The refund a `charge.refunded` event reports (the charge's total refunded so far)."""
    code = currency(charge.get("currency"))
    charge_id = ident(charge.get("id"), "data.object.id")
    intent = text(charge.get("payment_intent"), 200) or None
    refunded = _amount(charge.get("amount_refunded"), code, "amount_refunded")
    number, externals = _metadata(charge)
    return PaymentIn(
        kind="refund",
        # The cumulative refunded amount makes each partial refund its own, once-only entry.
        key=f"stripe:refund:{charge_id}:{refunded}",
        amount=refunded,
        currency=code,
        reference=intent or charge_id,
        order_number=number,
        external_ids=externals,
        payment_refs=[r for r in (intent, charge_id) if r],
    )
