"""Webhook intake: concurrent signed Shopify deliveries against a running API, beside /healthz.

    python -m bench.webhooks [--url http://127.0.0.1:8000] [--deliveries 200] [--concurrency 20]
                             [--secret S] [--admin-token T] [--repeat 1]

Each delivery is Shopify's documented `orders/create` sample with a fresh order id, signed with
`--secret` (default: CONVEYOR_SHOPIFY_SECRET), so each one records an order and starts its
workflow before it is answered. `--repeat N` sends every delivery N times at once, and with an
admin token the run checks that each store order became exactly one order. The figures are
deliveries per second and the latency to the 200 (p50/p99), beside the same for `GET /healthz`.
"""

import argparse
import asyncio
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from conveyor.webhook.signatures import sign_base64

SAMPLE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "webhooks"
SAMPLE_ID = b"820982911946154508"
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
    client: httpx.AsyncClient, gate: asyncio.Semaphore, method: str, url: str, **kw: object
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


async def main(args: argparse.Namespace) -> int:
    secret = args.secret or os.environ.get("CONVEYOR_SHOPIFY_SECRET")
    if not secret:
        print("give --secret or set CONVEYOR_SHOPIFY_SECRET (the API must use the same)")
        return 2
    template = (SAMPLE / "shopify_orders_create.json").read_bytes()
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

        run_id = random.randint(10**17, 9 * 10**17)  # Shopify-sized ids, above 2^53
        ids = [str(run_id + n).encode() for n in range(args.deliveries)]
        deliveries = []
        for order_id in ids:
            body = template.replace(SAMPLE_ID, order_id)
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Topic": "orders/create",
                "X-Shopify-Shop-Domain": "bench.myshopify.com",
                "X-Shopify-Webhook-Id": f"bench-{order_id.decode()}",
                "X-Shopify-Hmac-Sha256": sign_base64(body, secret),
            }
            deliveries += [("POST", "/webhooks/shopify", {"content": body, "headers": headers})]
        deliveries = [d for d in deliveries for _ in range(args.repeat)]
        random.shuffle(deliveries)
        probes = [("GET", "/healthz", {}) for _ in range(len(deliveries))]

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


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--deliveries", type=int, default=200, help="distinct store orders")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=1, help="send each delivery N times")
    parser.add_argument("--secret", default=None, help="Shopify secret (CONVEYOR_SHOPIFY_SECRET)")
    parser.add_argument("--admin-token", default=None, help="to add products and count orders")
    sys.exit(asyncio.run(main(parser.parse_args())))


if __name__ == "__main__":
    cli()
