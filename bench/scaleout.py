"""Scale-out: one worker process against two, on PostgreSQL, beside bare Temporal doing the same.

    python -m bench.scaleout [--orders 300] [--concurrency 50] [--database-url URL]

One Temporal dev server and one mail sink serve every half. Each half posts the same number of
prepaid web orders (all steps auto) to one `conveyor api` process and times them until every
order reads `completed`, first with one `python -m worker` process, then with two, each on a
fresh database. The baseline does the same with seven-no-op workflows and one, then two, bare
worker processes: what the machine (cores, the dev server, the database) allows two workers to
gain at all, measured in the same run. The figure to read is the ratio of the two ratios.
"""

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from temporalio.client import Client

from bench.noop_workflow import SevenNoopsWorkflow
from bench.throughput import ROOT, bench_settings, conveyor_orders
from conveyor.core import temporal_server
from conveyor.core.migrate import upgrade
from conveyor.core.temporal import connect
from conveyor.notification.mail_sink import start_sink

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
BARE = "bare Temporal (workflows/s)"
OURS = "Conveyor (orders/s)"


def _fresh_database(admin_url: str) -> str:
    """A new, migrated PostgreSQL database next to `admin_url`'s; its SQLAlchemy URL."""
    name = f"conveyor_bench_scaleout_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    upgrade(f"{url}/{name}")
    return f"{url}/{name}"


def _drop_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def bare(client: Client, address: str, workers: int, count: int, concurrency: int) -> float:
    """Seven-no-op workflows per second with `workers` bare worker processes."""
    queue = f"bench-bare-{uuid.uuid4().hex[:6]}"
    command = [sys.executable, "-m", "bench.noop_workflow", address, queue]
    processes = [
        subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL) for _ in range(workers)
    ]
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await client.execute_workflow(
                SevenNoopsWorkflow.run, id=f"bare-{uuid.uuid4()}", task_queue=queue
            )

    try:
        await one()  # every worker process is polling before the clock starts
        await asyncio.sleep(2)
        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
        return count / (time.perf_counter() - started)
    finally:
        for process in processes:
            temporal_server.stop(process)


async def main() -> None:
    """Run the four halves and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--database-url", default=POSTGRES, help="a PostgreSQL database to create others beside"
    )
    args = parser.parse_args()

    port = temporal_server.free_port()
    smtp_port = temporal_server.free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = temporal_server.start_dev_server(port=port, db_file=Path(tmp) / "temporal.db")
        mail_sink = start_sink(Path(tmp) / "mail", host="127.0.0.1", port=smtp_port)
        try:
            address = f"127.0.0.1:{port}"
            client = await Client.connect(address)
            runs = f"{args.orders} workflows per run, concurrency {args.concurrency}"
            print(f"{runs}, PostgreSQL", flush=True)
            rows: dict[str, list[float]] = {
                "bare Temporal (workflows/s)": [],
                "Conveyor (orders/s)": [],
            }
            for workers in (1, 2):
                rate = await bare(client, address, workers, args.orders, args.concurrency)
                rows[BARE].append(rate)
            for workers in (1, 2):
                url = _fresh_database(args.database_url)
                try:
                    folder = Path(tmp) / f"conveyor-{workers}"
                    folder.mkdir()
                    settings = bench_settings(
                        url,
                        folder,
                        temporal_port=port,
                        smtp_port=smtp_port,
                        # one Temporal server for both halves: workflow ids must not meet
                        order_number_prefix=f"W{workers}",
                    )
                    ours = await connect(settings)
                    rate, *_ = await conveyor_orders(
                        ours, settings, args.orders, args.concurrency, workers
                    )
                    rows[OURS].append(rate)
                finally:
                    _drop_database(args.database_url, url)
            print(f"{'':30} {'1 worker':>10} {'2 workers':>10} {'2 / 1':>7}")
            for name, (one, two) in rows.items():
                print(f"{name:30} {one:10.1f} {two:10.1f} {two / one:7.2f}")
            (bare_one, bare_two), (ours_one, ours_two) = rows[BARE], rows[OURS]
            print(
                f"Conveyor's gain as a share of the machine's: "
                f"{(ours_two / ours_one) / (bare_two / bare_one):.2f}"
            )
        finally:
            mail_sink.stop()
            temporal_server.stop(server)


if __name__ == "__main__":
    asyncio.run(main())
