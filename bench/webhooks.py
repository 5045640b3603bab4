"""Webhook intake: signed Shopify deliveries against a running API, beside /healthz.

    python -m bench.webhooks [--url http://127.0.0.1:8000] [--deliveries 200] [--concurrency 20]
                             [--secret S] [--admin-token T] [--repeat 1]
    python -m bench.webhooks --rate 50 --duration 20 [--health-rate 10] [--url ...] [...]

Each delivery is Shopify's documented `orders/create` sample with a fresh order id, signed with
`--secret` (default: CONVEYOR_SHOPIFY_SECRET), so each one records an order (its workflow is
started right after the answer).

Burst mode (the default): `--deliveries` at `--concurrency` at a time, then the figures:
deliveries per second and the latency to the 200 (p50/p99), beside the same for `GET /healthz`.
`--repeat N` sends every delivery N times at once, and with an admin token the run checks that
each store order became exactly one order.

Rate mode (`--rate R --duration S`): R new store orders per second for S seconds, each sent at
its time whatever the answers before it (an open loop, as a store sends them), with `/healthz`
sampled `--health-rate` times a second beside it. Latencies count from the moment a request was
due. It prints ack p50/p95/p99, `/healthz` p50/p99 and their ratio, then (with an admin token)
waits until the backlog is drained, read from the API: every delivery one order, every order's
workflow started (the order left "open, no step"), and every order at rest (completed, waiting
for payment, stock or a person's task); it prints how long each took.
"""

import argparse
import asyncio
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from conveyor.order.enums import OrderStatus, Step
from conveyor.webhook.signatures import sign_base64

SAMPLE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "webhooks"
SAMPLE_ID = b"820982911946154508"
Call = tuple[str, str, dict[str, Any]]  # method, URL, keyword arguments of the request
SKUS = {"SKU2006-001": "89.99", "SKU2006-020": "159.99", "SKU2006-035": "119.99"}


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _admin_token(given: str | None) -> str | None:
    if given:
        return given
    if os.environ.get("CONVEYOR_ADMIN_TOKEN"):
        return os.environ["CONVEYOR_ADMIN_TOKEN"]
    path = Path(os.environ.get("CONVEYOR_DATA_DIR", ".data")) / "admin-token"
    return path.read_text().strip() if path.exists() else None


async def _timed(
    client: httpx.AsyncClient, gate: asyncio.Semaphore, method: str, url: str, **kw: Any
) -> tuple[float, int]:
    async with gate:
        started = time.perf_counter()
        response = await client.request(method, url, **kw)
        return time.perf_counter() - started, response.status_code


async def _run(calls: list[tuple[str, str, dict]], client: httpx.AsyncClient, concurrency: int):
    gate = asyncio.Semaphore(concurrency)
    started = time.perf_counter()
    results = await asyncio.gather(*(_timed(client, gate, m, u, **kw) for m, u, kw in calls))
    elapsed = time.perf_counter() - started
    return elapsed, [r[0] for r in results], Counter(r[1] for r in results)


def _row(name: str, count: int, elapsed: float, latencies: list[float], codes: Counter) -> str:
    return (
        f"{name:<28} {count:>6} {count / elapsed:>9.1f} {_pct(latencies, 50) * 1000:>9.1f}"
        f" {_pct(latencies, 99) * 1000:>9.1f}   {dict(codes)}"
    )


def _delivery(template: bytes, order_id: bytes, secret: str) -> tuple[str, str, dict]:
    """One signed `orders/create` delivery of the sample with this store order id."""
    body = template.replace(SAMPLE_ID, order_id)
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Shop-Domain": "bench.myshopify.com",
        "X-Shopify-Webhook-Id": f"bench-{order_id.decode()}",
        "X-Shopify-Hmac-Sha256": sign_base64(body, secret),
    }
    return "POST", "/webhooks/shopify", {"content": body, "headers": headers}


async def main(args: argparse.Namespace) -> int:
    secret = args.secret or os.environ.get("CONVEYOR_SHOPIFY_SECRET")
    if not secret:
        print("give --secret or set CONVEYOR_SHOPIFY_SECRET (the API must use the same)")
        return 2
    template = (SAMPLE / "shopify_orders_create.json").read_bytes()
    if args.rate:  # an open loop: as many connections as the requests in flight need
        # Idle connections are dropped before the server's keep-alive timeout (uvicorn: 5 s), so
        # a request never goes out on a connection the server is closing at that moment.
        limits = httpx.Limits(
            max_connections=None, max_keepalive_connections=200, keepalive_expiry=2.0
        )
    else:
        limits = httpx.Limits(
            max_connections=args.concurrency, max_keepalive_connections=args.concurrency
        )
    async with httpx.AsyncClient(base_url=args.url, timeout=120, limits=limits) as client:
        health = await client.get("/healthz")
        if health.status_code != 200:
            print(f"GET /healthz answered {health.status_code}: {health.text}")
            return 2
        token = _admin_token(args.admin_token)
        admin = {"Authorization": f"Bearer {token}"} if token else {}
        if token:
            for sku, price in SKUS.items():  # known SKUs: the orders run, not wait for review
                await client.post(
                    "/api/products",
                    json={"sku": sku, "price": price, "on_hand": 1_000_000},
                    headers=admin,
                )
        if args.rate:
            return await _rate_mode(args, client, template, secret, admin)

        run_id = random.randint(10**17, 9 * 10**17)  # Shopify-sized ids, above 2^53
        ids = [str(run_id + n).encode() for n in range(args.deliveries)]
        deliveries = [_delivery(template, order_id, secret) for order_id in ids]
        deliveries = [d for d in deliveries for _ in range(args.repeat)]
        random.shuffle(deliveries)
        probes: list[Call] = [("GET", "/healthz", {}) for _ in range(len(deliveries))]

        print(
            f"{args.url}: {len(deliveries)} requests each, {args.concurrency} at a time"
            f" (each store order sent {args.repeat}x)"
        )
        print(f"{'':<28} {'count':>6} {'per s':>9} {'p50 ms':>9} {'p99 ms':>9}   status codes")
        elapsed, latencies, codes = await _run(probes, client, args.concurrency)
        print(_row("GET /healthz", len(probes), elapsed, latencies, codes))
        elapsed, latencies, codes = await _run(deliveries, client, args.concurrency)
        print(_row("POST /webhooks/shopify", len(deliveries), elapsed, latencies, codes))

        if token:
            orders = 0
            for order_id in ids[: min(len(ids), 50)]:
                found = await client.get(
                    "/api/orders",
                    params={"external_ref": f"shopify:{order_id.decode()}"},
                    headers=admin,
                )
                orders += found.json().get("count", 0) if found.status_code == 200 else 0
            checked = min(len(ids), 50)
            print(f"exactly once: {orders} orders for {checked} store orders checked")
            if orders != checked:
                return 1
    return 0 if set(codes) == {200} else 1


# ---- rate mode --------------------------------------------------------------------------------


async def _open_loop(
    client: httpx.AsyncClient, calls: list[tuple[str, str, dict]], rate: float, start: float
) -> tuple[list[float], Counter]:
    """Send call i at `start + i / rate` (loop time); latency from then to the answer."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    codes: Counter = Counter()

    async def one(i: int, method: str, url: str, kw: dict) -> None:
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - loop.time()))
        try:
            response = await client.request(method, url, **kw)
            codes[response.status_code] += 1
        except httpx.HTTPError as exc:
            codes[type(exc).__name__] += 1
        latencies.append(loop.time() - due)

    await asyncio.gather(*(one(i, m, u, kw) for i, (m, u, kw) in enumerate(calls)))
    return latencies, codes


def _ms(values: list[float], p: float) -> str:
    return f"{_pct(values, p) * 1000:>9.1f}" if values else f"{'-':>9}"


# An order waits for nothing but the outside world: paid or stock or a customer's answer, or a
# person's task at its step (checked against the open tasks).
AT_REST = {OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.BACKORDERED, OrderStatus.QUOTE}


async def _pages(client: httpx.AsyncClient, admin: dict, url: str, **params: str) -> list[dict]:
    rows: list[dict] = []
    page = 1
    while True:
        response = await client.get(
            url, params={**params, "page": page, "page_size": 200}, headers=admin
        )
        response.raise_for_status()
        body = response.json()
        rows += body["data"]
        if not body["data"] or len(rows) >= body["count"]:
            return rows
        page += 1


async def _census(client: httpx.AsyncClient, admin: dict, prefix: str) -> dict[str, int]:
    """This run's orders (read from the API): how many, not started, busy, by status and step."""
    orders = await _pages(client, admin, "/api/orders", q=prefix)
    tasks = await _pages(client, admin, "/api/tasks", scope="all", status="open")
    waiting = {(t["order_number"], t["step"]) for t in tasks}
    not_started = busy = 0
    for order in orders:
        status, step = order["status"], order["current_step"]
        if status == OrderStatus.OPEN and step is None:
            not_started += 1
        elif not (
            status in AT_REST or step == Step.COLLECTION or (order["number"], step) in waiting
        ):
            busy += 1
    census = {"orders": len(orders), "not started": not_started, "busy": busy}
    census |= {f"status {k}": v for k, v in sorted(Counter(o["status"] for o in orders).items())}
    steps = Counter(o["current_step"] or "none" for o in orders)
    return census | {f"step {k}": v for k, v in sorted(steps.items())}


async def _drain(
    client: httpx.AsyncClient, admin: dict, prefix: str, expected: int, args: argparse.Namespace
) -> int:
    """Wait until every delivery is one order, every workflow started, every order at rest.

    At rest: completed, cancelled, backordered, a quote, waiting for payment (collection) or
    for a person (an open task at its step): nothing left for the worker to do by itself.
    """
    began = time.perf_counter()
    started_after: float | None = None
    while True:
        census = await _census(client, admin, prefix)
        elapsed = time.perf_counter() - began
        if started_after is None and census["orders"] == expected and not census["not started"]:
            started_after = elapsed
            print(f"every workflow started {started_after:.1f} s after the last answer")
        if started_after is not None and not census["busy"]:
            break
        if elapsed > args.drain_timeout:
            print(f"not drained after {args.drain_timeout:.0f} s: {census}")
            return 1
        await asyncio.sleep(1.0)
    print(f"backlog drained {elapsed:.1f} s after the last answer: {census}")
    if census["orders"] != expected:
        print(f"exactly once: FAILED, {census['orders']} orders for {expected} store orders")
        return 1
    print(f"exactly once: {census['orders']} orders for {expected} store orders")
    return 0


async def _rate_mode(
    args: argparse.Namespace,
    client: httpx.AsyncClient,
    template: bytes,
    secret: str,
    admin: dict,
) -> int:
    count = int(args.rate * args.duration)
    prefix = str(random.randint(10**11, 9 * 10**11))  # 12 digits: the run's ids share them
    ids = [f"{prefix}{n:06d}".encode() for n in range(count)]  # Shopify-sized, above 2^53
    deliveries = [_delivery(template, order_id, secret) for order_id in ids]  # signed up front
    probes: list[Call] = [
        ("GET", "/healthz", {}) for _ in range(int(args.health_rate * args.duration))
    ]
    print(
        f"{args.url}: {args.rate:g} new store orders/s for {args.duration:g} s ({count}),"
        f" GET /healthz {args.health_rate:g}/s beside"
    )
    start = asyncio.get_running_loop().time() + 0.5
    (acks, ack_codes), (health, health_codes) = await asyncio.gather(
        _open_loop(client, deliveries, args.rate, start),
        _open_loop(client, probes, args.health_rate, start),
    )
    print(f"{'':<24} {'count':>6} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}   status codes")
    for name, values, codes in (
        ("POST /webhooks/shopify", acks, ack_codes),
        ("GET /healthz", health, health_codes),
    ):
        print(
            f"{name:<24} {len(values):>6} {_ms(values, 50)} {_ms(values, 95)} {_ms(values, 99)}"
            f"   {dict(codes)}"
        )
    ratio = _pct(acks, 99) / max(_pct(health, 99), 1e-9) if acks and health else float("nan")
    print(
        f"ack p99 / healthz p99 = {ratio:.2f}"
        f"   (goal: ack p99 < 250 ms and at most 2 x the /healthz p99)"
    )
    failed = set(ack_codes) != {200}
    if not admin:
        print("no admin token: the backlog is not read (give --admin-token)")
        return 1 if failed else 0
    drained = await _drain(client, admin, prefix, count, args)
    return 1 if failed or drained else 0


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--deliveries", type=int, default=200, help="distinct store orders")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=1, help="send each delivery N times")
    parser.add_argument("--secret", default=None, help="Shopify secret (CONVEYOR_SHOPIFY_SECRET)")
    parser.add_argument("--admin-token", default=None, help="to add products and count orders")
    parser.add_argument("--rate", type=float, default=0, help="rate mode: new orders per second")
    parser.add_argument("--duration", type=float, default=20, help="rate mode: seconds")
    parser.add_argument("--health-rate", type=float, default=10, help="rate mode: /healthz per s")
    parser.add_argument("--drain-timeout", type=float, default=900, help="rate mode: give up")
    sys.exit(asyncio.run(main(parser.parse_args())))


if __name__ == "__main__":
    cli()
