"""Shopify: headers of a delivery and the mapping of an order (REST webhook payload)."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from conveyor.core.models import round_money
from conveyor.webhook.payloads import (
    PayloadError,
    StoreLine,
    StoreOrderIn,
    country,
    currency,
    email,
    ident,
    money,
    obj,
    opt_obj,
    quantity,
    text,
    timestamp,
)

SIGNATURE_HEADER = "x-shopify-hmac-sha256"
TOPIC_HEADER = "x-shopify-topic"
DOMAIN_HEADER = "x-shopify-shop-domain"
# X-Shopify-Webhook-Id is one per delivery and the same on Shopify's retries of it: the key a
# delivery is stored once under. X-Shopify-Event-Id is shared by every delivery one merchant
# action produces (orders/create and orders/paid of one checkout), so it only stands in.
DELIVERY_HEADERS = ("x-shopify-webhook-id", "x-shopify-event-id")
# When Shopify triggered the delivery (not covered by the HMAC, like every header).
TRIGGERED_HEADER = "x-shopify-triggered-at"
CREATE_TOPICS = ("orders/create",)
UPDATE_TOPICS = ("orders/updated", "orders/edited", "orders/paid")
CANCEL_TOPICS = ("orders/cancelled", "orders/delete")


def _amount_set(payload: dict[str, Any], name: str) -> Decimal | None:
    shop_money = opt_obj(opt_obj(payload.get(name)).get("shop_money"))
    amount = shop_money.get("amount")
    return money(amount, name) if amount is not None else None


def _address(address: dict[str, Any]) -> dict[str, Any]:
    keys = ("name", "company", "address1", "address2", "city", "province", "zip", "country_code")
    return {k: address[k] for k in keys if isinstance(address.get(k), str) and address[k]}


def map_order(payload: Any) -> StoreOrderIn:
    """A Shopify order payload as a store order; PayloadError when it is not one."""
    order = obj(payload, "the order")
    external_id = ident(order.get("id"), "id")
    items = order.get("line_items")
    if not isinstance(items, list):
        raise PayloadError("line_items must be a list")
    lines: list[StoreLine] = []
    for n, raw in enumerate(items):
        item = obj(raw, f"line_items[{n}]")
        qty = quantity(item.get("quantity"), f"line_items[{n}].quantity")
        if qty == 0:
            continue  # removed by an order edit
        price = money(item.get("price"), f"line_items[{n}].price")
        discounts = sum(
            (
                money(
                    opt_obj(d).get("amount"),
                    f"line_items[{n}].discount_allocations",
                    default=Decimal(0),
                )
                for d in item.get("discount_allocations") or []
            ),
            Decimal("0"),
        )
        lines.append(
            StoreLine(
                sku=text(item.get("sku"), 64) or None,
                name=text(item.get("name") or item.get("title")),
                qty=qty,
                unit_price=price,
                line_total=round_money(price * qty - discounts),
            )
        )
    customer = opt_obj(order.get("customer"))
    shipping = opt_obj(order.get("shipping_address"))
    billing = opt_obj(order.get("billing_address"))
    name = " ".join(
        part for part in (text(customer.get("first_name")), text(customer.get("last_name"))) if part
    )
    shipping_total = _amount_set(order, "total_shipping_price_set")
    if shipping_total is None:
        shipping_total = sum(
            (
                money(opt_obj(s).get("price"), "shipping_lines.price", default=Decimal(0))
                for s in order.get("shipping_lines") or []
            ),
            Decimal("0"),
        )
    return StoreOrderIn(
        external_id=external_id,
        external_number=text(order.get("name"), 64)
        or text(str(order.get("order_number") or ""), 64)
        or None,
        email=email(order.get("email"))
        or email(order.get("contact_email"))
        or email(customer.get("email")),
        customer_name=name or text(billing.get("name")) or text(shipping.get("name")),
        country=country(shipping.get("country_code"))
        or country(billing.get("country_code"))
        or country(opt_obj(customer.get("default_address")).get("country_code")),
        currency=currency(order.get("currency")),
        lines=lines,
        discount=money(order.get("total_discounts"), "total_discounts", default=Decimal("0.00")),
        shipping=round_money(shipping_total),
        tax=money(order.get("total_tax"), "total_tax", default=Decimal("0.00")),
        total=money(order.get("total_price"), "total_price"),
        shipping_address=_address(shipping),
        payment_ref=text(order.get("checkout_token"), 200) or None,
        paid=order.get("financial_status") == "paid",
        cancelled=order.get("cancelled_at") is not None,
        status=text(order.get("financial_status"), 32),
        updated_at=timestamp(order.get("updated_at")),
    )


def order_id(payload: Any) -> str:
    """The order id of a cancellation or deletion payload."""
    return ident(obj(payload, "the order").get("id"), "id")


def updated_at(payload: Any) -> datetime | None:
    """The order's `updated_at` in any order payload (None when it has none)."""
    return timestamp(payload.get("updated_at")) if isinstance(payload, dict) else None


def triggered_at(headers: dict[str, str], body: bytes) -> datetime | None:
    """When Shopify triggered the delivery: `X-Shopify-Triggered-At` (None when absent)."""
    return timestamp(headers.get(TRIGGERED_HEADER))
