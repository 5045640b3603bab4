"""Throughput: bare Temporal (7 no-op activities) vs Conveyor orders through the API, one run.

    python -m bench.throughput [--orders 200] [--concurrency 50] [--database-url URL]

Both halves use the same Temporal dev server (started here) so the ratio is fair on a noisy
machine. Conveyor orders are prepaid web orders under an all-auto rule, posted to an API process
and run by a worker process (as `conveyor dev` runs them), timed from `POST /api/orders` until
the order reads `completed`. Activity tasks and history events per order are read from Temporal.
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session, col, func, select
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Worker

from bench.noop_workflow import SevenNoopsWorkflow, noop_step
from conveyor.core import temporal_server
from conveyor.core.db import make_engine
from conveyor.core.migrate import upgrade
from conveyor.core.settings import Settings
from conveyor.core.temporal import connect, order_workflow_id
from conveyor.notification.mail_sink import start_sink
from conveyor.notification.models import OutboxMessage, OutboxStatus
from conveyor.order.models import SalesOrder

ADMIN = "bench-admin-token-0123456789"
ROOT = Path(__file__).resolve().parent.parent
ALL_AUTO = ROOT / "tests" / "fixtures" / "rules" / "all_auto"


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


def bench_settings(
    url: str, data_dir: Path, *, temporal_port: int, smtp_port: int, **extra: Any
) -> Settings:
    """A benchmark's settings: its database, dev server and mail sink, the all-auto rules, a
    fresh task queue and a free API port (`extra`: other settings, e.g. the recheck)."""
    return Settings(
        database_url=url,
        temporal_address=f"127.0.0.1:{temporal_port}",
        admin_token=ADMIN,
        task_queue=f"bench-{uuid.uuid4().hex[:6]}",
        rules_dir=ALL_AUTO,
        data_dir=data_dir,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        http_port=temporal_server.free_port(),
        **extra,
    )


def _process_env(settings: Settings) -> dict[str, str]:
    """The environment of the API and worker processes: this run's database, Temporal, SMTP."""
    return {
        **os.environ,
        "CONVEYOR_DATABASE_URL": settings.effective_database_url,
        "CONVEYOR_TEMPORAL_ADDRESS": settings.temporal_address,
        "CONVEYOR_TASK_QUEUE": settings.task_queue,
        "CONVEYOR_ORDER_NUMBER_PREFIX": settings.order_number_prefix,
        "CONVEYOR_RULES_DIR": str(settings.rules_dir),
        "CONVEYOR_ADMIN_TOKEN": ADMIN,
        "CONVEYOR_DATA_DIR": str(settings.data_dir),
        "CONVEYOR_SMTP_HOST": settings.smtp_host,
        "CONVEYOR_SMTP_PORT": str(settings.smtp_port),
        "CONVEYOR_HTTP_PORT": str(settings.http_port),
        "CONVEYOR_BACKORDER_RECHECK_SECONDS": str(settings.backorder_recheck_seconds),
    }


def start_processes(settings: Settings, logs: Path, workers: int = 1) -> list[subprocess.Popen]:
    """The API and `workers` worker processes, as `conveyor dev` runs them (with one)."""
    env = _process_env(settings)
    python = sys.executable
    commands = {
        "api": [python, "-m", "conveyor.cli.main", "api", "--port", str(settings.http_port)],
        **{f"worker-{n + 1}": [python, "-m", "worker"] for n in range(workers)},
    }
    processes = []
    for name, command in commands.items():
        with open(logs / f"{name}.log", "ab") as log:
            processes.append(
                subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
            )
    temporal_server.wait_for_port(settings.http_port, process=processes[0])
    return processes


async def order_runs(client: Client, number: str) -> list[WorkflowHistory]:
    """The history of every run of an order's workflow, first to last (continue-as-new)."""
    described = await client.get_workflow_handle(order_workflow_id(number)).describe()
    run_id: str | None = described.raw_description.workflow_execution_info.first_run_id
    histories: list[WorkflowHistory] = []
    while run_id:
        handle = client.get_workflow_handle(order_workflow_id(number), run_id=run_id)
        histories.append(await handle.fetch_history())
        last = histories[-1].events[-1]
        if not last.HasField("workflow_execution_continued_as_new_event_attributes"):
            break
        run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return histories


async def history_counts(client: Client, numbers: list[str]) -> tuple[float, float]:
    """Mean activity tasks and history events per order, read from Temporal (every run)."""
    activities = events = 0
    for number in numbers:
        for history in await order_runs(client, number):
            events += len(history.events)
            activities += sum(
                1 for e in history.events if e.HasField("activity_task_scheduled_event_attributes")
            )
    return activities / len(numbers), events / len(numbers)


async def conveyor_orders(
    client: Client, settings: Settings, count: int, concurrency: int, workers: int = 1
) -> tuple[float, list[float], list[str], str]:
    """Orders per second, per-order latencies (POST to completed), the order numbers, and how
    long the outbox took to send the last mail after that, with `workers` worker processes."""
    engine = make_engine(settings.effective_database_url)
    processes = start_processes(settings, settings.data_dir, workers)
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{settings.http_port}",
            headers={"Authorization": f"Bearer {ADMIN}"},
            timeout=120,
        ) as api:
            created = await api.post(
                "/api/products",
                json={
                    "sku": "BENCH-1",
                    "name": "Bench item",
                    "price": "1.00",
                    "on_hand": count * 2,
                },
            )
            assert created.status_code == 201, created.text
            product = created.json()
            customer = (
                await api.post(
                    "/api/customers", json={"name": "Bench", "email": "bench@example.com"}
                )
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
            drained = await _outbox_drained(settings.effective_database_url)
    finally:
        for process in processes:
            temporal_server.stop(process)
        engine.dispose()
    return count / elapsed, latencies, sorted(posted), drained


async def _outbox_drained(url: str, wait_seconds: float = 120.0) -> str:
    """Wait until the outbox has no pending mail; say how long the dispatcher took after."""
    engine = make_engine(url, read_only=True)
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < wait_seconds:
            with Session(engine) as session:
                pending = session.exec(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.status == OutboxStatus.PENDING)
                ).one()
            if not pending:
                return f"outbox drained {time.perf_counter() - started:.1f} s after the last order"
            await asyncio.sleep(0.2)
        return f"{pending} still pending after {wait_seconds:.0f} s"
    finally:
        engine.dispose()


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
            settings = bench_settings(url, Path(tmp), temporal_port=port, smtp_port=smtp_port)
            client = await connect(settings)
            print(
                f"{args.orders} workflows each, concurrency {args.concurrency}, "
                f"database {url.split(':')[0]}"
            )
            bare = await bare_temporal(client, args.orders, args.concurrency)
            print(f"bare Temporal (7 no-op activities): {bare:8.1f} workflows/s")
            ours, latencies, numbers, drained = await conveyor_orders(
                client, settings, args.orders, args.concurrency
            )
            print(f"Conveyor orders (all steps auto):   {ours:8.1f} orders/s")
            print(f"ratio Conveyor / bare:              {ours / bare:8.2f}")
            print(
                f"POST /api/orders -> completed: p50 {statistics.median(latencies):.3f}s, "
                f"p99 {_pct(latencies, 99):.3f}s"
            )
            sample = numbers[:: max(1, len(numbers) // 20)]
            activities, events = await history_counts(client, sample)
            print(f"activity tasks per order:           {activities:8.1f}")
            print(f"history events per order:           {events:8.1f}")
            mails = len(list((Path(tmp) / "mail").glob("*.eml")))
            print(f"e-mails received by the SMTP sink:  {mails:8d} ({drained})")
        finally:
            mail_sink.stop()
            temporal_server.stop(server)


if __name__ == "__main__":
    asyncio.run(main())
