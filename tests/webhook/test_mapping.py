"""Mapping the providers' payloads: exact ids, amounts as charged, minor units, refusals."""

import json
from decimal import Decimal

import pytest

from conveyor.webhook import shopify, stripe, woocommerce
from conveyor.webhook.payloads import PayloadError, parse_json
from tests.webhook.conftest import SHOPIFY_ID, sample


def test_shopify_sample_maps_exactly() -> None:
    order = shopify.map_order(parse_json(sample("shopify_orders_create.json")))
    assert order.external_id == SHOPIFY_ID  # not 820982911946154500, as a float would make it
    assert order.external_number == "#9999"
    assert order.email == "jon@example.com"
    assert order.customer_name == "John Smith"
    assert order.country == "US"
    assert [(ln.sku, ln.qty, ln.unit_price) for ln in order.lines] == [
        ("SKU2006-001", 1, Decimal("89.99")),
        ("SKU2006-020", 1, Decimal("159.99")),
        ("SKU2006-035", 1, Decimal("119.99")),
    ]
    assert (order.subtotal, order.discount, order.shipping, order.tax, order.total) == (
        Decimal("369.97"),
        Decimal("20.00"),
        Decimal("10.00"),
        Decimal("0.00"),
        Decimal("359.97"),
    )
    assert order.shipping_address["city"] == "Shippington"


def test_shopify_line_discounts_and_removed_lines() -> None:
    payload = json.loads(sample("shopify_orders_create.json"))
    payload["line_items"][0]["quantity"] = 3
    payload["line_items"][0]["discount_allocations"] = [{"amount": "10.00"}, {"amount": "0.03"}]
    payload["line_items"][1]["quantity"] = 0  # removed by an order edit
    order = shopify.map_order(payload)
    assert [(ln.sku, ln.line_total) for ln in order.lines] == [
        ("SKU2006-001", Decimal("259.94")),
        ("SKU2006-035", Decimal("119.99")),
    ]


def test_woocommerce_sample_maps_with_float_prices_as_decimals() -> None:
    order = woocommerce.map_order(parse_json(sample("woocommerce_order_created.json")))
    assert order.external_id == "727"
    assert order.email == "john.doe@example.com"
    assert [(ln.sku, ln.qty, ln.unit_price, ln.line_total) for ln in order.lines] == [
        (None, 2, Decimal("3.00"), Decimal("6.00")),
        ("Bar3", 1, Decimal("12.00"), Decimal("12.00")),
    ]
    assert order.skus() == ["?727-1", "Bar3"]
    assert (order.tax, order.shipping, order.total) == (
        Decimal("1.35"),
        Decimal("10.00"),
        Decimal("29.35"),
    )
    assert order.paid and not order.cancelled
    assert woocommerce.is_ping(b"webhook_id=12", {})
    assert not woocommerce.is_ping(b"webhook_id=12", {"x-wc-webhook-signature": "x"})
    assert not woocommerce.is_ping(b"webhook_id=12&x=1", {})


@pytest.mark.parametrize(
    ("currency", "minor", "amount"),
    [("usd", 35997, "359.97"), ("jpy", 5000, "5000.00"), ("kwd", 12340, "12.34")],
)
def test_stripe_amounts_in_minor_units(currency: str, minor: int, amount: str) -> None:
    _, kind, intent = stripe.envelope(parse_json(sample("stripe_payment_intent_succeeded.json")))
    intent.update(currency=currency, amount_received=minor, metadata={"order_number": "SO-000007"})
    payment = stripe.map_payment(kind, intent)
    assert payment is not None
    assert payment.amount == Decimal(amount)
    assert payment.currency == currency.upper()
    assert payment.order_number == "SO-000007"
    assert payment.key == "stripe:payment:pi_3MtwBwLkdIwHu7ix28a3tqPa"


def test_checkout_session_pays_through_its_payment_intent_once() -> None:
    _, kind, session = stripe.envelope(parse_json(sample("stripe_checkout_session_completed.json")))
    payment = stripe.map_payment(kind, {**session, "client_reference_id": "SO-000009"})
    assert payment is not None
    assert (
        payment.key == "stripe:payment:pi_3MpIz3LkdIwHu7ix0vqKkJYy"
    )  # as payment_intent.succeeded
    assert (payment.amount, payment.order_number) == (Decimal("21.98"), "SO-000009")
    assert stripe.map_payment(kind, {**session, "payment_status": "unpaid"}) is None


def test_refund_is_keyed_by_the_refunded_total() -> None:
    event_id, _, charge = stripe.envelope(parse_json(sample("stripe_charge_refunded.json")))
    refund = stripe.map_refund(event_id, charge)
    assert (refund.kind, refund.amount, refund.reference) == (
        "refund",
        Decimal("10.99"),
        "pi_3MmlLrLkdIwHu7ix0Ajy8u3O",
    )
    assert refund.key == "stripe:refund:ch_3MmlLrLkdIwHu7ix0snN0B15:10.99"


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": 1.5, "line_items": []}',
        b'{"id": 1, "line_items": [{"quantity": 1.5, "price": "1"}], "currency": "USD"}',
        b'{"id": 1, "line_items": [], "currency": "dollars", "total_price": "1"}',
        b'{"id": 1, "line_items": [], "currency": "USD"}',
        b'{"id": 1, "line_items": [{"quantity": 1, "price": "NaN"}], "currency": "USD"}',
        b"[1, 2]",
        b'{"id": 1, "line_items": [',
    ],
)
def test_unreadable_orders_are_payload_errors(body: bytes) -> None:
    with pytest.raises(PayloadError):
        shopify.map_order(parse_json(body))
