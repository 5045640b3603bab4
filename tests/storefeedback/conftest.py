"""The stores' APIs as a local stand-in (Shopify and WooCommerce, as far as Conveyor uses them)
and the settings that point Conveyor at it."""

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conveyor.core.settings import Settings
from tests.conftest import RULES
from tests.webhook.conftest import SHOPIFY_SECRET, WOO_SECRET, sample

TOKEN = "shpat_test_0123456789"
WOO_KEY, WOO_SECRET_KEY = "ck_test_0123", "cs_test_4567"
PARENT, PAID = 389404469, "1000.00"  # the sale transaction a refund goes back to
SHOPIFY_BASE = "/admin/api/2024-10"
SHOPIFY_ITEMS = [
    {"id": item["id"], "sku": item["sku"], "quantity": item["quantity"]}
    for item in json.loads(sample("shopify_orders_create.json"))["line_items"]
]


@dataclass
class StandIn:
    """Shopify's and WooCommerce's order APIs as far as Conveyor uses them; records requests."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0  # answer this many of the next writes 503
    fulfilled: set[int] = field(default_factory=set)  # fulfillment order line items done
    notes: list[dict[str, Any]] = field(default_factory=list)  # WooCommerce order notes
    fulfillments: list[dict[str, Any]] = field(default_factory=list)  # created, in order
    refunds: list[dict[str, Any]] = field(default_factory=list)  # Shopify refunds created
    woo_refunds: list[dict[str, Any]] = field(default_factory=list)  # WooCommerce's
    # The merchant acts in Shopify's admin meanwhile: the next fulfillment is refused 422 with
    # its fulfillment order closed since, a cancel 422 with the order cancelled already.
    merchant_fulfils: bool = False
    merchant_cancelled: bool = False
    refuse_422: bool = False  # every fulfillment refused 422, its fulfillment order still open
    # Hold the answer to a created fulfillment until `release` (a worker killed meanwhile).
    hold: bool = False
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def writes(self, path_part: str = "") -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] != "GET" and path_part in r["path"]]

    def answer(self, method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        with self.lock:
            self.requests.append({"method": method, "path": path, "headers": headers, "json": body})
            if method != "GET" and self.fail_next > 0:
                self.fail_next -= 1
                return 503, {"errors": "Service Unavailable"}
            if path.startswith(SHOPIFY_BASE):
                return self._shopify(method, path.removeprefix(SHOPIFY_BASE), headers, body)
            return self._woocommerce(method, path, headers, body)

    def _shopify(self, method: str, path: str, headers: dict, body: Any) -> tuple[int, Any]:
        if headers.get("x-shopify-access-token") != TOKEN:
            return 401, {"errors": "[API] Invalid API key or access token"}
        order_id = path.split("/")[2].removesuffix(".json") if path.count("/") >= 2 else ""
        if method == "GET" and path == f"/orders/{order_id}.json":
            cancelled_at = "2026-12-02T15:00:00Z" if self.merchant_cancelled else None
            return 200, {
                "order": {
                    "id": int(order_id),
                    "line_items": SHOPIFY_ITEMS,
                    "cancelled_at": cancelled_at,
                }
            }
        if method == "GET" and path == f"/orders/{order_id}/fulfillment_orders.json":
            items = [
                {
                    "id": 9000 + n,
                    "line_item_id": item["id"],
                    "quantity": item["quantity"],
                    "fulfillable_quantity": 0 if 9000 + n in self.fulfilled else item["quantity"],
                }
                for n, item in enumerate(SHOPIFY_ITEMS)
            ]
            status = "closed" if len(self.fulfilled) == len(items) else "open"
            return 200, {
                "fulfillment_orders": [{"id": 7001, "status": status, "line_items": items}]
            }
        if method == "POST" and path == "/fulfillments.json":
            fulfillment = body["fulfillment"]
            assert set(fulfillment) >= {"line_items_by_fulfillment_order", "tracking_info"}
            if self.refuse_422:
                return 422, {"errors": ["Fulfillment order is not in an actionable state."]}
            if self.merchant_fulfils:
                self.fulfilled |= {9000 + n for n in range(len(SHOPIFY_ITEMS))}
                return 422, {"errors": ["Invalid fulfillment order line item quantity requested."]}
            assert set(fulfillment["tracking_info"]) == {"number", "url", "company"}
            for group in fulfillment["line_items_by_fulfillment_order"]:
                assert group["fulfillment_order_id"] == 7001
                self.fulfilled |= {i["id"] for i in group["fulfillment_order_line_items"]}
            self.fulfillments.append(fulfillment)
            return 201, {"fulfillment": {"id": 255858046, "status": "success"}}
        if method == "GET" and path == f"/orders/{order_id}/refunds.json":
            return 200, {"refunds": self.refunds}
        if method == "POST" and path == f"/orders/{order_id}/refunds/calculate.json":
            return 200, {"refund": {"transactions": self._calculate(body["refund"])}}
        if method == "POST" and path == f"/orders/{order_id}/refunds.json":
            refund = body["refund"]
            assert {"currency", "notify", "note", "refund_line_items", "transactions"} <= set(
                refund
            )
            self._calculate(refund)  # the same line items shape
            for transaction in refund["transactions"]:
                assert set(transaction) == {"parent_id", "amount", "kind", "gateway"}
                assert transaction["kind"] == "refund" and transaction["parent_id"] == PARENT
                assert Decimal(transaction["amount"]) <= Decimal(PAID)
                assert transaction["amount"] == f"{Decimal(transaction['amount']):.2f}"
            self.refunds.append({"id": 929361465 + len(self.refunds), **refund})
            return 201, {"refund": self.refunds[-1]}
        if (
            method == "POST"
            and path == f"/orders/{order_id}/cancel.json"
            and self.merchant_cancelled
        ):
            return 422, {"error": "Cannot cancel an order that has already been cancelled"}
        if method == "POST" and path == f"/orders/{order_id}/cancel.json":
            return 200, {"order": {"id": int(order_id), "cancelled_at": "2026-12-02T16:00:00Z"}}
        return 404, {"errors": "Not Found"}

    def _calculate(self, refund: dict[str, Any]) -> list[dict[str, Any]]:
        """Shopify's suggested transactions for the refund's line items (checked)."""
        known = {item["id"] for item in SHOPIFY_ITEMS}
        for item in refund["refund_line_items"]:
            assert set(item) == {"line_item_id", "quantity", "restock_type"}
            assert item["line_item_id"] in known and item["quantity"] > 0
            assert item["restock_type"] in ("no_restock", "cancel", "return")
        assert refund["currency"]
        return [
            {
                "order_id": 820982911946154508,
                "kind": "suggested_refund",
                "gateway": "shopify_payments",
                "parent_id": PARENT,
                "amount": PAID,
                "maximum_refundable": PAID,
                "currency": refund["currency"],
            }
        ]

    def _woocommerce(self, method: str, path: str, headers: dict, body: Any) -> tuple[int, Any]:
        expected = base64.b64encode(f"{WOO_KEY}:{WOO_SECRET_KEY}".encode()).decode()
        if headers.get("authorization") != f"Basic {expected}":
            return 401, {"code": "woocommerce_rest_cannot_view"}
        if method == "PUT" and path == "/wp-json/wc/v3/orders/727":
            assert set(body) == {"status"} and body["status"] in ("completed", "cancelled")
            return 200, {"id": 727, "status": body["status"]}
        if method == "GET" and path == "/wp-json/wc/v3/orders/727/refunds":
            return 200, self.woo_refunds
        if method == "POST" and path == "/wp-json/wc/v3/orders/727/refunds":
            allowed = {"amount", "reason", "refunded_by", "meta_data", "line_items"}
            assert set(body) <= allowed | {"api_refund", "api_restock"}
            assert isinstance(body["amount"], str) and Decimal(body["amount"]) > 0
            assert all(set(m) == {"key", "value"} for m in body.get("meta_data", []))
            assert body["api_restock"] is False
            self.woo_refunds.append({"id": 726 + len(self.woo_refunds), **body})
            return 201, self.woo_refunds[-1]
        if method == "GET" and path == "/wp-json/wc/v3/orders/727/notes":
            return 200, self.notes
        if method == "POST" and path == "/wp-json/wc/v3/orders/727/notes":
            assert set(body) == {"note", "customer_note"} and body["customer_note"] is True
            self.notes.append({"id": 281, "note": body["note"], "customer_note": True})
            return 201, self.notes[-1]
        return 404, {"code": "rest_no_route"}


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    stores = StandIn()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                status, answer = stores.answer(
                    self.command, self.path.split("?")[0], headers, json.loads(raw) if raw else None
                )
            except (AssertionError, KeyError, TypeError, ValueError) as exc:
                status, answer = 400, {"errors": f"not the documented shape: {exc!r}"}
            if stores.hold and status == 201 and self.path.endswith("/fulfillments.json"):
                stores.holding.set()  # the store has it; the answer waits
                stores.release.wait(60)
            data = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the caller is gone (killed while the answer was held)
                pass

        do_GET = do_POST = do_PUT = _handle

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stores.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield stores
    server.shutdown()
    server.server_close()


@pytest.fixture
def rules_dir() -> Path:
    """Packing is a task (tracking recorded on it); delivery waits for each shipment."""
    return RULES / "delivery"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, stand_in: StandIn) -> Settings:
    path = tmp_path / "stores.yaml"
    path.write_text(
        "stores:\n"
        "  - name: shopify\n"
        "    kind: shopify\n"
        f"    secrets: [{SHOPIFY_SECRET}]\n"
        f"    api_url: {stand_in.url}\n"
        f"    api_token: {TOKEN}\n"
        "  - name: woocommerce\n"
        "    kind: woocommerce\n"
        f"    secrets: [{WOO_SECRET}]\n"
        f"    api_url: {stand_in.url}/\n"
        f"    consumer_key: {WOO_KEY}\n"
        f"    consumer_secret: {WOO_SECRET_KEY}\n"
    )
    return settings.model_copy(
        update={
            "webhook_secrets_file": path,
            "outbound_poll_seconds": 0.1,
            "outbound_first_retry_seconds": 0.3,
            "carrier_tracking_urls": {"dhl": "https://www.dhl.com/track?id={tracking}"},
        }
    )
