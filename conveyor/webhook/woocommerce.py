"""WooCommerce: headers of a delivery, the ping, and the mapping of an order (REST v3 shape)."""

import re
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
    parse_json,
    quantity,
    text,
    timestamp,
)

SIGNATURE_HEADER = "x-wc-webhook-signature"
TOPIC_HEADER = "x-wc-webhook-topic"
DOMAIN_HEADER = "x-wc-webhook-source"
# WooCommerce makes a new delivery id for every attempt, so it keys the delivery, not a retry.
DELIVERY_HEADERS = ("x-wc-webhook-delivery-id",)
CREATE_TOPICS = ("order.created",)
UPDATE_TOPICS = ("order.updated", "order.restored")
CANCEL_TOPICS = ("order.deleted",)
CANCELLED_STATUSES = ("cancelled", "trash")
# WooCommerce checks a new webhook's URL by posting this form body, unsigned.
PING = re.compile(rb"^webhook_id=\d{1,20}$")


def is_ping(body: bytes, headers: dict[str, str]) -> bool:
    """True for the unsigned `webhook_id=<id>` form post WooCommerce sends on webhook creation."""
    return SIGNATURE_HEADER not in headers and bool(PING.match(body.strip()))


def _address(address: dict[str, Any]) -> dict[str, Any]:
    name = " ".join(
        p for p in (text(address.get("first_name")), text(address.get("last_name"))) if p
    )
    keys = ("company", "address_1", "address_2", "city", "state", "postcode", "country")
    result = {k: address[k] for k in keys if isinstance(address.get(k), str) and address[k]}
    return {"name": name, **result} if name else result


def map_order(payload: Any) -> StoreOrderIn:
    """A WooCommerce order payload as a store order; PayloadError when it is not one."""
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
            continue
        line_total = money(item.get("total"), f"line_items[{n}].total")
        price = item.get("price")
        unit = (
            money(price, f"line_items[{n}].price")
            if price is not None
            else round_money(money(item.get("subtotal"), f"line_items[{n}].subtotal") / qty)
        )
        sku = text(item.get("sku"), 64) or None
        lines.append(
            StoreLine(
                sku=sku,
                name=text(item.get("name")),
                qty=qty,
                unit_price=unit,
                line_total=line_total,
            )
        )
    billing = opt_obj(order.get("billing"))
    shipping = opt_obj(order.get("shipping"))
    name = " ".join(
        p for p in (text(billing.get("first_name")), text(billing.get("last_name"))) if p
    )
    status = text(order.get("status"), 32)
    return StoreOrderIn(
        external_id=external_id,
        external_number=text(str(order.get("number") or ""), 64) or None,
        email=email(billing.get("email")),
        customer_name=name or text(billing.get("company")),
        country=country(shipping.get("country")) or country(billing.get("country")),
        currency=currency(order.get("currency")),
        lines=lines,
        discount=money(order.get("discount_total"), "discount_total", default=Decimal("0.00")),
        shipping=money(order.get("shipping_total"), "shipping_total", default=Decimal("0.00")),
        tax=money(order.get("total_tax"), "total_tax", default=Decimal("0.00")),
        total=money(order.get("total"), "total"),
        shipping_address=_address(shipping),
        payment_ref=text(order.get("transaction_id"), 200) or None,
        paid=bool(order.get("date_paid") or order.get("date_paid_gmt")),
        cancelled=status in CANCELLED_STATUSES,
        status=status,
        updated_at=timestamp(order.get("date_modified_gmt")),
    )


def order_id(payload: Any) -> str:
    """The order id of a deletion payload (`{"id": 727}`)."""
    return ident(obj(payload, "the order").get("id"), "id")


def updated_at(payload: Any) -> datetime | None:
    """The order's `date_modified_gmt` (UTC) in any order payload (None when it has none)."""
    return timestamp(payload.get("date_modified_gmt")) if isinstance(payload, dict) else None


def triggered_at(headers: dict[str, str], body: bytes) -> datetime | None:
    """When the delivery was made, as far as anything signed says: WooCommerce sends no time
    header, so the signed body's `date_modified_gmt` (None without one, e.g. `order.deleted`)."""
    try:
        return updated_at(parse_json(body))
    except PayloadError:
        return None  # answered as malformed further on
