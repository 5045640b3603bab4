"""Store feedback against a local stand-in of the stores' APIs: a Shopify order shipped in
Conveyor is one fulfillment with its tracking (also when the store fails twice first), a
WooCommerce order is completed with a customer note, and a cancellation reaches the store."""

import asyncio
import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from conveyor.core.db import session_scope
from conveyor.core.settings import Settings
from conveyor.storefeedback.models import StoreFeedback
from tests.conftest import ADMIN_TOKEN, RULES
from tests.shipping.test_delivery import _pack
from tests.utils.api import create_product, wait_for_open_task, wait_for_order
from tests.utils.pages import staff_client
from tests.webhook.conftest import (
    SHOPIFY_SECRET,
    WOO_SECRET,
    post_shopify,
    post_woocommerce,
    sample,
    shopify_order,
    woocommerce_order,
)

TOKEN = "shpat_test_0123456789"
WOO_KEY, WOO_SECRET_KEY = "ck_test_0123", "cs_test_4567"
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
            return 200, {"order": {"id": int(order_id), "line_items": SHOPIFY_ITEMS}}
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
            assert set(fulfillment["tracking_info"]) == {"number", "url", "company"}
            for group in fulfillment["line_items_by_fulfillment_order"]:
                assert group["fulfillment_order_id"] == 7001
                self.fulfilled |= {i["id"] for i in group["fulfillment_order_line_items"]}
            return 201, {"fulfillment": {"id": 255858046, "status": "success"}}
        if method == "POST" and path == f"/orders/{order_id}/cancel.json":
            return 200, {"order": {"id": int(order_id), "cancelled_at": "2026-12-02T16:00:00Z"}}
        return 404, {"errors": "Not Found"}

    def _woocommerce(self, method: str, path: str, headers: dict, body: Any) -> tuple[int, Any]:
        expected = base64.b64encode(f"{WOO_KEY}:{WOO_SECRET_KEY}".encode()).decode()
        if headers.get("authorization") != f"Basic {expected}":
            return 401, {"code": "woocommerce_rest_cannot_view"}
        if method == "PUT" and path == "/wp-json/wc/v3/orders/727":
            assert set(body) == {"status"} and body["status"] in ("completed", "cancelled")
            return 200, {"id": 727, "status": body["status"]}
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
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

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


def _shopify_order() -> bytes:
    order = json.loads(shopify_order())
    order["cancelled_at"] = order["cancel_reason"] = None  # the sample is oddly cancelled
    return json.dumps(order).encode()


async def _until(check, what: str, seconds: float = 30.0) -> None:
    for _ in range(int(seconds / 0.1)):
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(what)


def _rows(engine: Engine) -> list[StoreFeedback]:
    with session_scope(engine) as session:
        return list(session.exec(select(StoreFeedback)).all())


async def test_shopify_order_shipped_is_one_fulfillment_with_tracking_after_two_failures(
    api: httpx.AsyncClient, worker, engine: Engine, stand_in: StandIn
) -> None:
    for item in SHOPIFY_ITEMS:
        await create_product(api, sku=item["sku"], on_hand=20)
    placed = await post_shopify(api, _shopify_order())
    assert placed.status_code == 200, placed.text
    number = placed.json()["order_number"]
    stand_in.fail_next = 2
    await _pack(api, number, 1, {"carrier": "dhl", "tracking": "JD0146000012345"})

    await _until(lambda: len(stand_in.writes()) == 3, f"3 attempts: {stand_in.requests}")
    first, second, third = stand_in.writes()
    assert all(w["path"] == f"{SHOPIFY_BASE}/fulfillments.json" for w in (first, second, third))
    assert first["json"] == third["json"]
    assert third["headers"]["x-shopify-access-token"] == TOKEN
    assert third["headers"]["idempotency-key"] == f"{number}:s1:fulfil"
    fulfillment = third["json"]["fulfillment"]
    assert fulfillment["tracking_info"] == {
        "number": "JD0146000012345",
        "url": "https://www.dhl.com/track?id=JD0146000012345",
        "company": "dhl",
    }
    (group,) = fulfillment["line_items_by_fulfillment_order"]
    assert sorted(i["quantity"] for i in group["fulfillment_order_line_items"]) == [1, 1, 1]
    await _until(lambda: _rows(engine)[0].status == "sent", "the row marked sent")
    (row,) = _rows(engine)
    assert (row.attempts, row.last_status) == (3, 201)

    # Once the store took it, the order page says nothing of it.
    page = (await (await staff_client(api, ADMIN_TOKEN)).get(f"/orders/{number}")).text
    assert "Store not updated yet" not in page
    await asyncio.sleep(1.0)
    assert len(stand_in.writes()) == 3  # never sent again once the store answered 2xx

    # A worker killed after the store's 2xx but before its commit tries the row again: the
    # store's fulfillment orders show it fulfilled, so nothing is posted twice.
    with session_scope(engine) as session:
        lost = session.exec(select(StoreFeedback)).one()
        lost.status, lost.sent_at = "pending", None
        session.add(lost)
    reads = len(stand_in.requests)
    await _until(lambda: _rows(engine)[0].status == "sent", "the row sent again")
    assert len(stand_in.requests) > reads  # it looked at the store
    assert len(stand_in.writes()) == 3


async def test_failure_is_said_on_the_order_page_and_the_order_goes_on(
    api: httpx.AsyncClient, worker, engine: Engine, stand_in: StandIn
) -> None:
    for item in SHOPIFY_ITEMS:
        await create_product(api, sku=item["sku"], on_hand=20)
    number = (await post_shopify(api, _shopify_order())).json()["order_number"]
    stand_in.fail_next = 1000
    await _pack(api, number, 1, {"carrier": "dhl", "tracking": "JD1"})
    await _until(lambda: stand_in.writes(), "a first attempt")
    await _until(lambda: _rows(engine)[0].last_error is not None, "the failure recorded")
    staff = await staff_client(api, ADMIN_TOKEN)
    page = (await staff.get(f"/orders/{number}")).text
    assert "Store not updated yet: HTTP 503" in page
    assert "next try" in page
    monitor = (await staff.get("/monitor")).text
    assert "Stores not updated yet" in monitor and f"{number}</a> (shopify, fulfil)" in monitor
    order = (await api.get(f"/api/orders/{number}")).json()
    assert order["current_step"] in ("delivery", "collection")  # not held by the store


async def test_woocommerce_order_shipped_is_completed_with_a_tracking_note(
    api: httpx.AsyncClient, worker, engine: Engine, stand_in: StandIn
) -> None:
    body = json.loads(woocommerce_order())
    for n, item in enumerate(body["line_items"]):
        item["sku"] = item["sku"] or f"WOO-{n}"
        await create_product(api, sku=item["sku"], on_hand=20)
    placed = await post_woocommerce(api, json.dumps(body).encode())
    assert placed.status_code == 200, placed.text
    number = placed.json()["order_number"]
    await _pack(api, number, 1, {"carrier": "dhl", "tracking": "JD0146000099"})

    await _until(lambda: len(stand_in.writes()) == 2, f"status and note: {stand_in.requests}")
    status, note = stand_in.writes()
    assert (status["method"], status["json"]) == ("PUT", {"status": "completed"})
    assert note["method"] == "POST" and note["path"].endswith("/orders/727/notes")
    assert "JD0146000099" in note["json"]["note"]
    assert "https://www.dhl.com/track?id=JD0146000099" in note["json"]["note"]
    await _until(lambda: _rows(engine)[0].status == "sent", "the row marked sent")

    # Tried again after a lost commit: the status is set again, the note is not added twice.
    with session_scope(engine) as session:
        lost = session.exec(select(StoreFeedback)).one()
        lost.status = "pending"
        session.add(lost)
    await _until(lambda: len(stand_in.writes()) == 3, "the status set again")
    await _until(lambda: _rows(engine)[0].status == "sent", "the row sent again")
    assert len(stand_in.notes) == 1


@pytest.mark.parametrize("rules_dir", [RULES / "picking_task"])  # cancelled before packing
async def test_cancellation_in_conveyor_reaches_the_store(
    api: httpx.AsyncClient, worker, engine: Engine, stand_in: StandIn
) -> None:
    for item in SHOPIFY_ITEMS:
        await create_product(api, sku=item["sku"], on_hand=20)
    number = (await post_shopify(api, _shopify_order())).json()["order_number"]
    await wait_for_open_task(api, number, "picking")
    cancelled = await api.post(f"/api/orders/{number}/cancel", params={"reason": "out of stock"})
    assert cancelled.status_code == 200, cancelled.text
    await wait_for_order(api, number, lambda o: o["status"] == "cancelled")
    await _until(lambda: stand_in.writes("cancel.json"), f"a cancel: {stand_in.requests}")
    (cancel,) = stand_in.writes()
    assert cancel["method"] == "POST"
    assert cancel["headers"]["x-shopify-access-token"] == TOKEN
    await _until(lambda: _rows(engine)[0].status == "sent", "the row marked sent")


@pytest.mark.parametrize("rules_dir", [RULES / "picking_task"])
async def test_cancellation_by_the_store_is_not_sent_back(
    api: httpx.AsyncClient, worker, engine: Engine, stand_in: StandIn
) -> None:
    for item in SHOPIFY_ITEMS:
        await create_product(api, sku=item["sku"], on_hand=20)
    number = (await post_shopify(api, _shopify_order())).json()["order_number"]
    await wait_for_open_task(api, number, "picking")
    gone = await post_shopify(api, _shopify_order(), topic="orders/cancelled")
    assert gone.status_code == 200, gone.text
    await wait_for_order(api, number, lambda o: o["status"] == "cancelled")
    await asyncio.sleep(1.0)
    assert stand_in.requests == [] and _rows(engine) == []
