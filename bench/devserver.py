"""The embedded Temporal dev server's SQLite settings, measured: bare workflows/s per setting.

    python -m bench.devserver [--workflows 300] [--concurrency 50] [--rounds 2]

Each round starts a fresh dev server (database file in a temporary folder) per setting and runs
the same bare workload (7 no-op activities per workflow); settings alternate within a round so
a noisy machine penalises them alike.
"""

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from bench.throughput import bare_temporal
from conveyor.core import temporal_server
from conveyor.core.settings import Settings
from conveyor.core.temporal import connect

SETTINGS: dict[str, tuple[str, ...]] = {
    "journal_mode=wal": ("journal_mode=wal",),
    "wal + synchronous=normal": ("journal_mode=wal", "synchronous=normal"),
    "wal + synchronous=off (unsafe)": ("journal_mode=wal", "synchronous=off"),
}


async def measure(pragmas: tuple[str, ...], workflows: int, concurrency: int) -> float:
    """Bare workflows/s on a fresh dev server with these pragmas."""
    port = temporal_server.free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = temporal_server.start_dev_server(
            port=port, db_file=Path(tmp) / "temporal.db", pragmas=pragmas
        )
        try:
            client = await connect(Settings(temporal_address=f"127.0.0.1:{port}"))
            await bare_temporal(client, max(20, workflows // 10), concurrency)  # warm-up
            return await bare_temporal(client, workflows, concurrency)
        finally:
            temporal_server.stop(server)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, list[float]] = {name: [] for name in SETTINGS}
    for round_no in range(args.rounds):
        names = list(SETTINGS) if round_no % 2 == 0 else list(reversed(SETTINGS))
        for name in names:
            rate = await measure(SETTINGS[name], args.workflows, args.concurrency)
            results[name].append(rate)
            print(f"round {round_no + 1}: {name:32} {rate:6.1f} workflows/s", flush=True)
    print(f"\n{'dev server SQLite setting':32} {'median workflows/s':>20}")
    for name, rates in results.items():
        print(f"{name:32} {statistics.median(rates):20.1f}")


if __name__ == "__main__":
    asyncio.run(main())
