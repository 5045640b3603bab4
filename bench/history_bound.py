"""History bound: orders left unpaid through thousands of rechecks keep every run's history short.

    python -m bench.history_bound [--orders 20] [--minutes 5] [--recheck 0.05]

Starts its own Temporal dev server, API and worker (separate processes, default history bound),
places all-auto orders that are not prepaid, so each waits for payment and rechecks every
`--recheck` seconds (the dev server fires timers about once a second), waits `--minutes`, then
reads every run of every order from Temporal and prints the rechecks, the runs and the longest
run. Then it pays each order and checks that each completes once: one invoice, one payment.
Exits non-zero when a run reaches 2,000 events or an order does not complete exactly once.
"""

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlmodel import Session, col, func, select
from temporalio.api.enums.v1 import EventType

from bench.throughput import ADMIN, bench_settings, order_runs, start_processes
from conveyor.core import temporal_server
from conveyor.core.db import make_engine
from conveyor.core.migrate import upgrade
from conveyor.core.temporal import connect
from conveyor.invoice.models import Invoice, Payment
from conveyor.notification.mail_sink import start_sink
from conveyor.order.models import SalesOrder

RUN_LIMIT = 2000  # issue 11: every run stays under this many events


async def _wait_for(api: httpx.AsyncClient, number: str, done: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        order = (await api.get(f"/api/orders/{number}")).json()
        if order["status"] == done or order["current_step"] == done:
            return order
        await asyncio.sleep(0.5)
    raise TimeoutError(f"{number} never reached {done}")


async def run(orders: int, minutes: float, recheck: float) -> int:
    """The whole benchmark; the exit status."""
    port, smtp_port = temporal_server.free_port(), temporal_server.free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = temporal_server.start_dev_server(port=port, db_file=Path(tmp) / "temporal.db")
        sink = start_sink(Path(tmp) / "mail", host="127.0.0.1", port=smtp_port)
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        settings = bench_settings(
            url,
            Path(tmp),
            temporal_port=port,
            smtp_port=smtp_port,
            backorder_recheck_seconds=recheck,
        )
        processes = start_processes(settings, Path(tmp))
        engine = make_engine(url)
        try:
            client = await connect(settings)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{settings.http_port}",
                headers={"Authorization": f"Bearer {ADMIN}"},
                timeout=60,
            ) as api:
                sku = (
                    await api.post(
                        "/api/products", json={"sku": "HB-1", "price": "4.00", "on_hand": orders}
                    )
                ).json()["sku"]
                customer = (
                    await api.post(
                        "/api/customers", json={"name": "Slow payer", "email": "slow@example.com"}
                    )
                ).json()
                numbers = []
                for _ in range(orders):
                    response = await api.post(
                        "/api/orders",
                        json={"customer_id": customer["id"], "lines": [{"sku": sku, "qty": 1}]},
                    )
                    response.raise_for_status()
                    numbers.append(response.json()["number"])
                for number in numbers:
                    await _wait_for(api, number, "collection", 120)
                print(
                    f"{orders} orders waiting for payment, recheck every {recheck} s, {minutes} min"
                )
                started = time.monotonic()
                while (left := minutes * 60 - (time.monotonic() - started)) > 0:
                    await asyncio.sleep(min(60.0, left))
                    print(f"  {time.monotonic() - started:5.0f} s waited")

                lengths: list[int] = []
                rechecks = 0
                for number in numbers:
                    histories = await order_runs(client, number)
                    lengths += [len(h.events) for h in histories]
                    rechecks += sum(
                        e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
                        for h in histories
                        for e in h.events
                    )
                print(f"rechecks (local activity markers): {rechecks}")
                print(f"runs: {len(lengths)} ({len(lengths) / orders:.1f} per order)")
                print(f"events per run: max {max(lengths)}, mean {sum(lengths) / len(lengths):.0f}")

                for number in numbers:
                    response = await api.post(
                        f"/api/orders/{number}/payments", json={"amount": "4.00"}
                    )
                    response.raise_for_status()
                for number in numbers:
                    await _wait_for(api, number, "completed", 120)
                with Session(engine) as session:
                    ids = list(
                        session.exec(
                            select(SalesOrder.id).where(col(SalesOrder.number).in_(numbers))
                        )
                    )
                    invoices = session.exec(
                        select(func.count())
                        .select_from(Invoice)
                        .where(col(Invoice.order_id).in_(ids))
                    ).one()
                    payments = session.exec(
                        select(func.count())
                        .select_from(Payment)
                        .where(col(Payment.order_id).in_(ids))
                    ).one()
                print(
                    f"paid and completed: {orders} orders, {invoices} invoices, {payments} payments"
                )
                ok = max(lengths) < RUN_LIMIT and invoices == payments == orders
                print("history bound held" if ok else "FAILED")
                return 0 if ok else 1
        finally:
            for process in processes:
                temporal_server.stop(process)
            engine.dispose()
            sink.stop()
            temporal_server.stop(server)


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--recheck", type=float, default=0.05, help="seconds between rechecks")
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.orders, args.minutes, args.recheck)))


if __name__ == "__main__":
    main()
