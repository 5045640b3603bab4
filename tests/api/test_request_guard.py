"""The request guard (api/guard.py): body limits, authentication before parsing, idempotency
key length, security headers; and what /healthz tells strangers outside development."""

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.guard import DATA_CSP, DOCS_CSP, HSTS, MAX_IDEMPOTENCY_KEY, PAGE_CSP
from api.main import create_app
from conveyor.core.settings import Settings
from conveyor.customer.models import Customer
from conveyor.order.models import SalesOrder
from conveyor.webhook.models import WebhookDelivery
from tests.conftest import ADMIN_TOKEN
from tests.pages.conftest import live_server  # noqa: F401 - a fixture
from tests.utils.api import create_customer, create_product, place_order

MIB = 1024 * 1024
CHUNK = 64 * 1024


def _count(engine: Engine, table: type) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(table)).one()


def _anonymous(api: httpx.AsyncClient) -> httpx.AsyncClient:
    """A client on the same app without the admin bearer token."""
    return httpx.AsyncClient(transport=api._transport, base_url=str(api.base_url), timeout=60)


class Upload:
    """A request body handed over in 64 KiB chunks, counting how many the app asked for."""

    def __init__(self, size: int, fill: bytes = b"x") -> None:
        self.size = size
        self.fill = fill
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        while sent < self.size:
            self.pulled += 1
            chunk = self.fill * min(CHUNK, self.size - sent)
            sent += len(chunk)
            yield chunk


async def test_ten_megabytes_without_a_token_are_refused_unread(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    anonymous = _anonymous(api)
    upload = Upload(10 * MIB)
    headers = {"Content-Type": "application/json", "Content-Length": str(upload.size)}
    refused = await anonymous.post("/api/orders", content=upload, headers=headers)
    assert refused.status_code == 413, refused.text
    assert "too large" in refused.json()["detail"]
    assert upload.pulled == 0  # refused on Content-Length: not one byte was read
    # With the admin token too: the limit is not for strangers only.
    upload = Upload(10 * MIB)
    refused = await api.post("/api/orders", content=upload, headers=headers)
    assert refused.status_code == 413 and upload.pulled == 0
    assert _count(engine, SalesOrder) == 0
    await anonymous.aclose()


async def test_a_real_server_answers_413_before_the_body_arrives(live_server: str) -> None:  # noqa: F811
    host, port = live_server.removeprefix("http://").split(":")

    def exchange() -> bytes:
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            conn.sendall(
                b"POST /api/orders HTTP/1.1\r\nHost: conveyor\r\n"
                b"Content-Type: application/json\r\nContent-Length: 10485760\r\n\r\n"
            )
            return conn.recv(4096)  # the answer comes although no body byte was sent

    answer = await asyncio.to_thread(exchange)
    assert answer.startswith(b"HTTP/1.1 413"), answer


async def test_anonymous_bodies_get_401_before_they_are_parsed(api: httpx.AsyncClient) -> None:
    anonymous = _anonymous(api)
    malformed = b'{"customer_id": 1, "lines": ['
    json_type = {"Content-Type": "application/json"}
    for headers, detail in (
        (json_type, "missing bearer token"),
        ({**json_type, "Authorization": "Basic YTpi"}, "missing bearer token"),
        ({**json_type, "Authorization": "Bearer not-a-token"}, "invalid bearer token"),
    ):
        refused = await anonymous.post("/api/orders", content=malformed, headers=headers)
        assert refused.status_code == 401, refused.text
        assert refused.json() == {"detail": detail}
        assert refused.headers["www-authenticate"] == "Bearer"
    # The same body with a token is parsed, and refused for what it is.
    parsed = await api.post("/api/orders", content=malformed, headers=json_type)
    assert parsed.status_code == 422 and "detail" in parsed.json()
    await anonymous.aclose()


async def test_a_chunked_body_over_the_limit_is_refused_while_streaming(
    api: httpx.AsyncClient, engine: Engine, settings: Settings
) -> None:
    assert settings.max_body_bytes == MIB and settings.max_webhook_body_bytes == MIB
    upload = Upload(4 * MIB)
    refused = await api.post(
        "/api/customers", content=upload, headers={"Content-Type": "application/json"}
    )
    assert refused.status_code == 413, refused.text
    # Reading stopped at the limit: 16 chunks make 1 MiB, the 17th passes it.
    assert upload.pulled == MIB // CHUNK + 1
    assert _count(engine, Customer) == 0
    # Webhooks have their own limit, checked the same way before anything is stored.
    upload = Upload(2 * MIB)
    refused = await _anonymous(api).post(
        "/webhooks/shopify", content=upload, headers={"X-Shopify-Topic": "orders/create"}
    )
    assert refused.status_code == 413 and upload.pulled == MIB // CHUNK + 1
    assert _count(engine, WebhookDelivery) == 0


async def test_normal_requests_still_work(api: httpx.AsyncClient, engine: Engine) -> None:
    # A chunked body under the limit reaches the route whole.
    body = f'{{"name": "Chunked", "email": "c-{uuid.uuid4().hex[:8]}@example.com"}}'.encode()

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 7):
            yield body[i : i + 7]

    created = await api.post(
        "/api/customers", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "Chunked"
    # Just under the limit: parsed and validated (422 for the name), not refused for size.
    big = {"name": "x" * (MIB - 200), "email": "big@example.com"}
    assert (await api.post("/api/customers", json=big)).status_code == 422
    assert _count(engine, Customer) == 1
    # What must stay open without a token stays open.
    anonymous = _anonymous(api)
    assert (await anonymous.get("/healthz")).status_code in (200, 503)
    assert (await anonymous.get("/openapi.json")).status_code == 200
    assert (await anonymous.get("/docs")).status_code == 200
    assert (await anonymous.get("/login")).status_code == 200
    assert (await anonymous.get("/static/conveyor.js")).status_code == 200
    unsigned = await anonymous.post("/webhooks/shopify", content=b"{}")
    assert unsigned.status_code == 401 and "outcome" in unsigned.json()  # the webhook's own answer
    await anonymous.aclose()


async def test_idempotency_keys_are_bounded(api: httpx.AsyncClient) -> None:
    product = await create_product(api, on_hand=0)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)])
    too_long = "k" * (MAX_IDEMPOTENCY_KEY + 1)
    for url, body in (
        (f"/api/inventory/{product['sku']}/receive", {"qty": 1}),
        (f"/api/orders/{order['number']}/payments", {"amount": "1.00", "method": "manual"}),
    ):
        refused = await api.post(url, json=body, headers={"Idempotency-Key": too_long})
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"][0]["loc"] == ["header", "idempotency-key"]
    receive = f"/api/inventory/{product['sku']}/receive"
    longest = {"Idempotency-Key": "k" * MAX_IDEMPOTENCY_KEY}
    received = await api.post(receive, json={"qty": 2}, headers=longest)
    assert received.status_code == 200, received.text
    again = await api.post(receive, json={"qty": 2}, headers=longest)
    assert again.json()["on_hand"] == received.json()["on_hand"]  # the same receipt, once


async def test_security_headers_on_every_response(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    anonymous = _anonymous(api)
    page = await anonymous.get("/login")
    json_answer = await api.get("/api/orders")
    refused = await anonymous.get("/api/orders")
    docs = await anonymous.get("/docs")
    static = await anonymous.get("/static/conveyor.css")
    for response in (page, json_answer, refused, docs, static):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "strict-transport-security" not in response.headers  # development: plain HTTP
    assert page.headers["content-security-policy"] == PAGE_CSP
    assert "'unsafe-inline'" not in PAGE_CSP and "'unsafe-eval'" not in PAGE_CSP
    assert json_answer.headers["content-security-policy"] == DATA_CSP
    assert docs.headers["content-security-policy"] == DOCS_CSP
    # The pages carry no inline script for that policy to block.
    assert " onchange=" not in page.text and " onclick=" not in page.text
    assert "secure" not in page.headers["set-cookie"].lower()
    await anonymous.aclose()

    production = create_app(settings.model_copy(update={"environment": "production"}))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=production), base_url="http://conveyor.test"
    ) as client:
        page = await client.get("/login")
        assert page.headers["strict-transport-security"] == HSTS
        # Behind a proxy that speaks plain HTTP to us, the cookie is still Secure.
        assert "secure" in page.headers["set-cookie"].lower()
        refused = await client.get("/api/orders")
        assert refused.status_code == 401
        assert refused.headers["strict-transport-security"] == HSTS
        # Outside development: no interactive docs, and the API description needs a token.
        assert (await client.get("/docs")).status_code == 404
        assert (await client.get("/redoc")).status_code == 404
        assert (await client.get("/openapi.json")).status_code == 401
        token = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        described = await client.get("/openapi.json", headers=token)
        assert described.status_code == 200 and "/api/orders" in described.json()["paths"]
    production.state.conveyor.engine.dispose()


def test_secure_cookies_follow_the_settings() -> None:
    assert Settings(environment="development").secure_cookies is False
    assert Settings(environment="development", session_cookie_secure=True).secure_cookies
    assert Settings(environment="staging").secure_cookies
    assert Settings(environment="staging", session_cookie_secure=False).secure_cookies is False
    assert Settings(environment="production", session_cookie_secure=False).secure_cookies


async def test_healthz_names_no_exceptions_outside_development(tmp_path: Path) -> None:
    answers = {}
    for environment in ("development", "production"):
        app = create_app(
            Settings(
                environment=environment,
                # Nothing listens on port 1: both checks fail.
                database_url="postgresql://postgres@127.0.0.1:1/nothing",
                temporal_address="127.0.0.1:1",
                admin_token=ADMIN_TOKEN,
                data_dir=tmp_path / environment,
            )
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://conveyor.test"
        ) as client:
            response = await client.get("/healthz")
        assert response.status_code == 503
        answers[environment] = response.json()
        app.state.conveyor.engine.dispose()
    assert answers["development"]["database"].startswith("down: ")  # e.g. "down: OperationalError"
    assert answers["production"] == {"status": "down", "database": "down", "temporal": "down"}
