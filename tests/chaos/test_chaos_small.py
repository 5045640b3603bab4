"""The chaos benchmark, small: orders survive SIGKILLs of the worker, API, Temporal, mail sink.

Twenty orders go in (prepaid ones through `POST /api/orders` with their Idempotency-Key, a
quarter as signed Shopify deliveries paid by signed Stripe events, all retried with the same
key or id) while one of each part is killed at a seeded random moment and started again; then
every invariant of bench/invariants.py must hold, on SQLite and on PostgreSQL. `make chaos`
runs the full size.
"""

from pathlib import Path

from bench.chaos import run_chaos
from bench.stack import PARTS

ORDERS = 20
KILLS = len(PARTS)  # one of each, in a random order


async def test_orders_survive_sigkills_of_every_part(database_url: str, tmp_path: Path) -> None:
    report = await run_chaos(
        orders=ORDERS,
        kills=KILLS,
        database_url=database_url,
        seed=16,
        kill_every=4.0,
        settle_seconds=240.0,
        folder=tmp_path,
    )
    table = report.table()
    assert sorted(k.part for k in report.kills) == sorted(PARTS), table
    assert report.settled, table
    failed = [c.name for c in report.checks if not c.passed]
    assert not failed, table
