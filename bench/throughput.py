"""Throughput: bare Temporal (7 no-op activities) vs Conveyor orders through the API, one run.

    python -m bench.throughput [--orders 200] [--concurrency 50] [--database-url URL]

Both halves use the same Temporal dev server (started here) so the ratio is fair on a noisy
machine. Conveyor orders are prepaid web orders under an all-auto rule, timed from
`POST /api/orders` until the order reads `completed`.
"""

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.worker import Worker

from api.main import create_app
from bench.noop_workflow import SevenNoopsWorkflow, noop_step
from conveyor.core import temporal_server
from conveyor.core.db import make_engine
from conveyor.core.migrate import upgrade
from conveyor.core.settings import Settings
from conveyor.core.temporal import connect
from conveyor.notification.mail_sink import start_sink
from conveyor.order.models import SalesOrder
from worker import build_worker

ADMIN = "bench-admin-token-0123456789"
ALL_AUTO = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "rules" / "all_auto"


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def bare_temporal(client: Client, count: int, concurrency: int) -> float:
    """Workflows per second for `count` seven-no-op workflows."""
    queue = f"bench-bare-{uuid.uuid4().hex[:6]}"
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await client.execute_workflow(
                SevenNoopsWorkflow.run, id=f"bare-{uuid.uuid4()}", task_queue=queue
            )

    async with Worker(
        client,
        task_queue=queue,
        workflows=[SevenNoopsWorkflow],
        activities=[noop_step],
        activity_executor=ThreadPoolExecutor(16),
    ):
        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
        return count / (time.perf_counter() - started)


async def conveyor_orders(
    client: Client, settings: Settings, count: int, concurrency: int
) -> tuple[float, list[float]]:
    """Orders per second and per-order latencies (POST to completed)."""
    engine = make_engine(settings.effective_database_url)
    app = create_app(settings)
    app.state.conveyor._client = client
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://bench",
            headers={"Authorization": f"Bearer {ADMIN}"},
            timeout=120,
        ) as api,
        build_worker(client, engine, settings, max_concurrent_activities=32),
    ):
        product = (
            await api.post(
                "/api/products", json={"sku": "BENCH-1", "price": "1.00", "on_hand": count * 2}
            )
        ).json()
        customer = (
            await api.post("/api/customers", json={"name": "Bench", "email": "bench@example.com"})
        ).json()
        done: dict[str, float] = {}

        async def watch() -> None:
            while len(done) < count:
                with Session(engine) as session:
                    for number in session.exec(
                        select(SalesOrder.number)
                        .where(SalesOrder.status == "completed")
                        .where(col(SalesOrder.number).not_in(list(done) or ["-"]))
                    ):
                        done[number] = time.perf_counter()
                await asyncio.sleep(0.05)

        posted: dict[str, float] = {}

        async def one() -> None:
            async with gate:
                t0 = time.perf_counter()
                response = await api.post(
                    "/api/orders",
                    json={
                        "customer_id": customer["id"],
                        "channel": "web",
                        "prepaid": True,
                        "lines": [{"sku": product["sku"], "qty": 1}],
                    },
                )
                response.raise_for_status()
                posted[response.json()["number"]] = t0

        started = time.perf_counter()
        watcher = asyncio.create_task(watch())
        await asyncio.gather(*(one() for _ in range(count)))
        await watcher
        elapsed = time.perf_counter() - started
        latencies = [done[n] - posted[n] for n in posted]
    engine.dispose()
    return count / elapsed, latencies


async def main() -> None:
    """Run both halves and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()

    port = temporal_server.free_port()
    smtp_port = temporal_server.free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = temporal_server.start_dev_server(port=port, db_file=Path(tmp) / "temporal.db")
        # Orders send mail (confirmation, shipped, invoice, payment): a real sink receives it.
        mail_sink = start_sink(Path(tmp) / "mail", host="127.0.0.1", port=smtp_port)
        try:
            url = args.database_url or f"sqlite:///{tmp}/bench.db"
            upgrade(url)
            settings = Settings(
                database_url=url,
                temporal_address=f"127.0.0.1:{port}",
                admin_token=ADMIN,
                task_queue=f"bench-{uuid.uuid4().hex[:6]}",
                rules_dir=ALL_AUTO,
                data_dir=Path(tmp),
                smtp_host="127.0.0.1",
                smtp_port=smtp_port,
            )
            client = await connect(settings)
            print(
                f"{args.orders} workflows each, concurrency {args.concurrency}, "
                f"database {url.split(':')[0]}"
            )
            bare = await bare_temporal(client, args.orders, args.concurrency)
            print(f"bare Temporal (7 no-op activities): {bare:8.1f} workflows/s")
            ours, latencies = await conveyor_orders(client, settings, args.orders, args.concurrency)
            print(f"Conveyor orders (all steps auto):   {ours:8.1f} orders/s")
            print(f"ratio Conveyor / bare:              {ours / bare:8.2f}")
            print(
                f"POST /api/orders -> completed: p50 {statistics.median(latencies):.3f}s, "
                f"p99 {_pct(latencies, 99):.3f}s"
            )
            mails = len(list((Path(tmp) / "mail").glob("*.eml")))
            print(f"e-mails received by the SMTP sink:  {mails:8d}")
        finally:
            mail_sink.stop()
            temporal_server.stop(server)


if __name__ == "__main__":
    asyncio.run(main())
