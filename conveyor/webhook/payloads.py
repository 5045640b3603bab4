"""What the store and payment mappings produce, and the strict readers they share."""

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from conveyor.core.models import round_money


class PayloadError(Exception):
    """The signed body is not something we can read (bad JSON, missing or wrong fields): 400."""


@dataclass
class StoreLine:
    sku: str | None
    name: str
    qty: int
    unit_price: Decimal
    line_total: Decimal  # as charged: after line discounts, before tax


@dataclass
class StoreOrderIn:
    """A store order, mapped from Shopify or WooCommerce."""

    external_id: str
    external_number: str | None
    email: str | None
    customer_name: str
    country: str | None
    currency: str
    lines: list[StoreLine]
    discount: Decimal
    shipping: Decimal
    tax: Decimal
    total: Decimal
    shipping_address: dict[str, Any] = field(default_factory=dict)
    payment_ref: str | None = None
    paid: bool = False
    cancelled: bool = False
    status: str = ""
    # When the store last changed the order (signed, in the body): orders updates by it.
    updated_at: datetime | None = None

    @property
    def subtotal(self) -> Decimal:
        """Sum of the lines as charged."""
        return round_money(sum((line.line_total for line in self.lines), Decimal("0")))

    def skus(self) -> list[str]:
        """The SKU each line is recorded with; a line without one gets a placeholder to review."""
        return [
            (line.sku or f"?{self.external_id}-{n + 1}")[:64] for n, line in enumerate(self.lines)
        ]

    def line_key(self) -> list[tuple[str, int]]:
        """(sku, qty) per line as recorded, sorted: what an update is compared with."""
        return sorted(zip(self.skus(), (line.qty for line in self.lines), strict=True))


@dataclass
class PaymentIn:
    """A payment or refund reported by the payment provider."""

    kind: str  # payment | refund
    key: str  # idempotency key: one payment per payment intent, one refund per refund
    amount: Decimal
    currency: str
    reference: str  # payment intent / charge / session id
    order_number: str | None = None  # Conveyor's number, from metadata or client_reference_id
    external_ids: list[str] = field(default_factory=list)  # store order ids from metadata
    payment_refs: list[str] = field(default_factory=list)  # ids a store order may carry
    method: str = "stripe"


def parse_json(body: bytes) -> Any:
    """Decode a JSON body exactly: integers stay integers, decimals become Decimal."""
    try:
        return json.loads(body, parse_float=Decimal)
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadError(f"body is not valid JSON: {exc}") from exc


def obj(value: Any, name: str) -> dict[str, Any]:
    """`value` as a JSON object, or PayloadError."""
    if not isinstance(value, dict):
        raise PayloadError(f"{name} must be an object")
    return value


def opt_obj(value: Any) -> dict[str, Any]:
    """`value` when it is an object, else an empty one (optional sub-objects)."""
    return value if isinstance(value, dict) else {}


def ident(value: Any, name: str) -> str:
    """An id kept exact: an integer (never a float) or a non-empty string."""
    if isinstance(value, bool) or value is None:
        raise PayloadError(f"{name} is missing")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()[:64]
    raise PayloadError(f"{name} must be an integer or a string")


def money(value: Any, name: str, *, default: Decimal | None = None) -> Decimal:
    """A money amount from a string or number, rounded to cents."""
    if value is None or value == "":
        if default is not None:
            return default
        raise PayloadError(f"{name} is missing")
    if isinstance(value, bool):
        raise PayloadError(f"{name} must be an amount")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise PayloadError(f"{name} must be an amount") from exc
    if not amount.is_finite() or abs(amount) >= Decimal("1e12"):
        raise PayloadError(f"{name} is out of range")
    return round_money(amount)


def quantity(value: Any, name: str) -> int:
    """A line quantity: a whole number, zero or more."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise PayloadError(f"{name} must be a whole number")
    try:
        qty = Decimal(str(value))
    except InvalidOperation as exc:
        raise PayloadError(f"{name} must be a whole number") from exc
    if qty != qty.to_integral_value() or qty < 0 or qty > 100_000:
        raise PayloadError(f"{name} must be a whole number between 0 and 100000")
    return int(qty)


def text(value: Any, limit: int = 200) -> str:
    """A display string, trimmed; empty for anything that is not a string."""
    return value.strip()[:limit] if isinstance(value, str) else ""


def currency(value: Any, name: str = "currency") -> str:
    """An ISO 4217 code, upper case."""
    code = text(value, 8).upper()
    if len(code) != 3 or not code.isalpha():
        raise PayloadError(f"{name} must be a three-letter currency code")
    return code


def email(value: Any) -> str | None:
    """A plausible e-mail address, lower case, or None."""
    address = text(value, 320).lower()
    if "@" not in address or address.startswith("@") or address.endswith("@"):
        return None
    return address


def country(value: Any) -> str | None:
    """A two-letter country code, or None."""
    code = text(value, 8).upper()
    return code if len(code) == 2 and code.isalpha() else None


# ISO 8601 as the stores write it: "2021-12-31T19:00:00-05:00", "2023-03-29T18:00:27.877041743Z",
# WooCommerce's "2017-03-22T19:28:08" (its `_gmt` fields carry no offset: UTC).
_TIMESTAMP = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$"
)


def timestamp(value: Any) -> datetime | None:
    """An ISO 8601 time as aware UTC (no offset: UTC); None when missing or unreadable."""
    if not isinstance(value, str):
        return None
    match = _TIMESTAMP.match(value.strip())
    if match is None:
        return None
    day, clock, fraction, offset = match.groups()
    micros = (fraction or "").ljust(6, "0")[:6]
    zone = "+00:00" if offset in (None, "Z") else offset
    if len(zone) == 5:  # +0500
        zone = f"{zone[:3]}:{zone[3:]}"
    try:
        parsed = datetime.fromisoformat(f"{day}T{clock}.{micros}{zone}")
    except ValueError:
        return None
    return parsed.astimezone(UTC)
