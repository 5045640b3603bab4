"""Chaos: orders posted while the worker, API, Temporal and the mail sink are SIGKILLed at random.

    python -m bench.chaos [--orders 1000] [--kills 50] [--database sqlite|postgresql]
                          [--database-url URL] [--seed N] [--kill-every 5] [--settle 600]

Starts the stack as separate processes (bench/stack.py: the Temporal dev server on a database
file, `conveyor mail-sink`, a worker, `conveyor api`) on a fresh database and sends orders with
a client that retries on connection errors, timeouts, 429 and 5xx with the same key, so a retry
is safe: three in four are prepaid web orders through `POST /api/orders` with an
Idempotency-Key, one in four a signed Shopify orders/create (one delivery id) paid by a signed
Stripe payment_intent.succeeded (one event id). More of the scarce SKU is received halfway
(also keyed). Meanwhile a seeded random schedule SIGKILLs one part at a time and starts it
again. Then it waits until everything is at rest and checks every invariant from the
database, the sink's folder and Temporal (bench/invariants.py). It prints the kills and the
invariants as tables; the exit status is 1 when an invariant failed.
"""

import argparse
import asyncio
import contextlib
import json
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from bench.invariants import Check, Expected, check_all
from bench.stack import (
    ADMIN_TOKEN,
    PARTS,
    ROOT,
    Stack,
    StackConfig,
    drop_database,
    fresh_database,
)
from conveyor.core.db import make_engine
from conveyor.core.settings import Settings
from conveyor.core.temporal import connect
from conveyor.inventory.models import Product
from conveyor.notification.models import OutboxMessage, OutboxStatus
from conveyor.order.enums import OrderStatus
from conveyor.order.models import SalesOrder
from conveyor.webhook.service import RETAKE_RECEIVED_AFTER_SECONDS
from conveyor.webhook.signatures import sign_base64, sign_stripe

PLENTY, SCARCE = "CHAOS-PLENTY", "CHAOS-SCARCE"
RETRY_STATUSES = {429, 500, 502, 503, 504}
# Every fourth order comes from the store: Shopify's documented sample with its own order id,
# not paid at the store, then paid through a Stripe payment_intent.succeeded.
SHOPIFY_SAMPLE = ROOT / "tests" / "fixtures" / "webhooks" / "shopify_orders_create.json"
SHOPIFY_SAMPLE_ID = b"820982911946154508"
STORE_SKUS = ("SKU2006-001", "SKU2006-020", "SKU2006-035")
WEBHOOK_DONE = {"processed", "duplicate"}
# A repeat of a delivery still `received` this much later takes it over (its process died).
RETAKE_SECONDS = RETAKE_RECEIVED_AFTER_SECONDS + 2


@dataclass
class Kill:
    at: float  # seconds since the orders began
    part: str
    down: float  # seconds it stayed down
    completed: int  # orders completed at that moment


@dataclass
class ChaosReport:
    seed: int
    database: str
    orders: int
    kills: list[Kill]
    checks: list[Check]
    died: Counter[str] = field(default_factory=Counter)  # exits nobody caused, restarted
    retries: Counter[str] = field(default_factory=Counter)  # client retries by reason
    errors: list[str] = field(default_factory=list)  # requests refused for good
    stuck_deliveries: list[str] = field(default_factory=list)
    posting_seconds: float = 0.0
    settle_seconds: float = 0.0
    settled: bool = False

    @property
    def passed(self) -> bool:
        return self.settled and not self.errors and all(c.passed for c in self.checks)

    def table(self) -> str:
        """The kills and the invariants, as printed."""
        lines = [
            f"seed {self.seed}, {self.orders} orders, {len(self.kills)} kills, "
            f"database {self.database}",
            "",
            f"{'#':>3}  {'at s':>7}  {'part':<10} {'down s':>6}  {'completed':>9}",
        ]
        for n, kill in enumerate(self.kills, 1):
            lines.append(
                f"{n:>3}  {kill.at:7.1f}  {kill.part:<10} {kill.down:6.1f}  {kill.completed:>9}"
            )
        per_part = Counter(k.part for k in self.kills)
        lines += [
            "",
            "kills per part: " + ", ".join(f"{p} {per_part[p]}" for p in PARTS),
            "exits on their own (restarted): "
            + (", ".join(f"{p} {c}" for p, c in self.died.items()) or "none"),
            "client retries: "
            + (", ".join(f"{r} {c}" for r, c in sorted(self.retries.items())) or "none"),
            "payments answered `duplicate` while their first attempt had died (a provider "
            f"stops retrying; resent after {RETAKE_SECONDS} s here): "
            f"{len(self.stuck_deliveries)} {' '.join(self.stuck_deliveries[:5])}",
            f"requests refused for good: {len(self.errors)}"
            + "".join(f"\n  {e}" for e in self.errors[:5]),
            f"posting took {self.posting_seconds:.1f} s; at rest "
            f"{self.settle_seconds:.1f} s after the last order"
            + ("" if self.settled else " (NOT SETTLED: timed out)"),
            "",
            f"{'invariant':<62} {'':4}  figures",
        ]
        for check in self.checks:
            verdict = "ok" if check.passed else "FAIL"
            lines.append(f"{check.name:<62} {verdict:4}  {check.detail}")
        return "\n".join(lines)


class RetryingClient:
    """Requests that are safe to repeat (an Idempotency-Key, a webhook's delivery or event id),
    repeated until answered."""

    def __init__(self, config: StackConfig, retries: Counter[str], deadline: float) -> None:
        self.config = config
        self.http = httpx.AsyncClient(
            base_url=config.base_url,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=httpx.Timeout(30.0, connect=5.0),
        )
        self.retries = retries
        self.deadline = deadline

    async def _until_answered(
        self, what: str, send: Callable[[], Awaitable[httpx.Response]]
    ) -> dict:
        pause = 0.2
        while True:
            try:
                response = await send()
                if response.status_code < 300:
                    return response.json()
                if response.status_code not in RETRY_STATUSES:
                    raise RuntimeError(f"{what}: {response.status_code} {response.text[:300]}")
                reason = f"HTTP {response.status_code}"
            except httpx.TimeoutException:
                reason = "timeout"
            except httpx.TransportError:
                reason = "connection"
            self.retries[reason] += 1
            if time.monotonic() > self.deadline:
                raise TimeoutError(f"{what}: still no answer ({reason})")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)

    async def post(self, path: str, body: dict[str, Any], key: str | None = None) -> dict:
        """The answer's JSON; the same key on every attempt."""
        headers = {"Idempotency-Key": key} if key else {}
        return await self._until_answered(
            path, lambda: self.http.post(path, json=body, headers=headers)
        )

    async def get(self, path: str) -> dict:
        return await self._until_answered(path, lambda: self.http.get(path))

    async def shopify_order(self, store_order_id: int, delivery_id: str) -> dict:
        """orders/create for a new store order; Shopify's retries keep the delivery id."""
        body = SHOPIFY_SAMPLE.read_bytes().replace(SHOPIFY_SAMPLE_ID, str(store_order_id).encode())
        triggered = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": "chaos.myshopify.com",
            "X-Shopify-Webhook-Id": delivery_id,
            "X-Shopify-Triggered-At": triggered,
            "X-Shopify-Hmac-Sha256": sign_base64(body, self.config.shopify_secret),
        }
        return await self._until_answered(
            "shopify", lambda: self.http.post("/webhooks/shopify", content=body, headers=headers)
        )

    async def stripe_payment(self, event_id: str, number: str, cents: int) -> dict:
        """payment_intent.succeeded for the order; each attempt signed anew, as Stripe does."""
        intent = {
            "id": f"pi_{event_id}",
            "object": "payment_intent",
            "amount": cents,
            "amount_received": cents,
            "currency": "usd",
            "status": "succeeded",
            "metadata": {"order_number": number},
        }
        event = {
            "id": f"evt_{event_id}",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "data": {"object": intent},
        }
        body = json.dumps(event).encode()

        def send() -> Awaitable[httpx.Response]:
            signature = sign_stripe(body, self.config.stripe_secret, int(time.time()))
            headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
            return self.http.post("/webhooks/stripe", content=body, headers=headers)

        return await self._until_answered("stripe", send)

    async def aclose(self) -> None:
        await self.http.aclose()


def _count_completed(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(
            select(func.count())
            .select_from(SalesOrder)
            .where(SalesOrder.status == OrderStatus.COMPLETED)
        ).one()


class Chaos:
    """One run: the stack, the client's orders, the kill schedule, the watch on the stock."""

    def __init__(
        self, stack: Stack, engine: Engine, *, orders: int, kills: int, seed: int, kill_every: float
    ) -> None:
        self.stack, self.engine = stack, engine
        self.orders, self.kills, self.kill_every = orders, kills, kill_every
        self.rng = random.Random(seed)
        self.retries: Counter[str] = Counter()
        self.kill_log: list[Kill] = []
        self.died: Counter[str] = Counter()
        scarce_orders = sum(1 for n in range(orders) if n % 3 == 0 and n % 4 != 1)
        self.expected = Expected(
            numbers={},
            initial_stock={PLENTY: orders * 2, SCARCE: max(1, scarce_orders // 2)},
            receipts={SCARCE: max(1, scarce_orders // 4)},
        )
        self.errors: list[str] = []  # requests refused for good (not retryable)
        # Payments whose repeat was answered `duplicate` while nothing would act on them.
        self.stuck_deliveries: set[str] = set()
        self.started = 0.0

    def _victims(self) -> list[str]:
        """Every part once first (in a random order), then at random."""
        first = list(PARTS)
        self.rng.shuffle(first)
        rest = [self.rng.choice(PARTS) for _ in range(max(0, self.kills - len(first)))]
        return (first + rest)[: self.kills]

    async def _kill_and_supervise(self) -> None:
        victims = self._victims()
        next_kill = time.monotonic() + self.rng.uniform(0.5, 1.5) * self.kill_every
        down: dict[str, float] = {}  # part -> when to start it again
        while victims or down:
            now = time.monotonic()
            for part, back_at in list(down.items()):
                if now >= back_at:
                    self.stack.start(part, wait=False)
                    del down[part]
            if victims and now >= next_kill and not down:
                part = victims.pop(0)
                completed = await asyncio.to_thread(_count_completed, self.engine)
                self.stack.kill(part)
                pause = self.rng.uniform(0.2, 3.0)
                down[part] = time.monotonic() + pause
                self.kill_log.append(Kill(now - self.started, part, pause, completed))
                print(f"  kill {len(self.kill_log):>3}: {part} ({pause:.1f} s down)", flush=True)
                next_kill = now + self.rng.uniform(0.5, 1.5) * self.kill_every
            for part in list(self.stack.parts):
                if part not in down and not self.stack.running(part):
                    self.died[part] += 1
                    self.stack.start(part, wait=False)
            await asyncio.sleep(0.1)

    async def _watch_stock(self, stop: asyncio.Event) -> None:
        """Sample every SKU's balance while the chaos runs: nothing may go below zero."""
        while not stop.is_set():
            with contextlib.suppress(Exception):  # a locked SQLite file: the next sample
                rows = await asyncio.to_thread(self._balances)
                for on_hand, committed in rows:
                    self.expected.min_available = min(
                        self.expected.min_available, on_hand - committed
                    )
                    self.expected.min_committed = min(self.expected.min_committed, committed)
            await asyncio.sleep(0.5)

    def _balances(self) -> list[tuple[int, int]]:
        with Session(self.engine) as session:
            return [(p.on_hand, p.committed) for p in session.exec(select(Product))]

    async def _post_orders(self, client: RetryingClient, customer_id: int) -> None:
        # Paced so the posting spans the kill schedule: kills land while orders come in.
        window = max(self.kills * self.kill_every, 1.0)
        gate = asyncio.Semaphore(16)

        async def one(n: int) -> None:
            await asyncio.sleep(n * window / self.orders)
            try:
                async with gate:
                    if n % 4 == 1:
                        await self._store_order(client, n)
                    else:
                        await self._api_order(client, customer_id, n)
                if n == self.orders // 2:
                    await client.post(
                        f"/api/inventory/{SCARCE}/receive",
                        {"qty": self.expected.receipts[SCARCE], "reference": "chaos"},
                        key="chaos-receipt",
                    )
            except (RuntimeError, TimeoutError) as exc:
                self.errors.append(str(exc))

        await asyncio.gather(*(one(n) for n in range(self.orders)))

    async def _api_order(self, client: RetryingClient, customer_id: int, n: int) -> None:
        """A prepaid web order through the JSON API, under its Idempotency-Key."""
        lines = [{"sku": PLENTY, "qty": 1}]
        if n % 3 == 0:  # a third of the orders also want the scarce SKU
            lines.append({"sku": SCARCE, "qty": 1})
        key = f"chaos-order-{n}"
        body = {"customer_id": customer_id, "channel": "web", "prepaid": True, "lines": lines}
        order = await client.post("/api/orders", body, key=key)
        self.expected.numbers[key] = order["number"]

    async def _store_order(self, client: RetryingClient, n: int) -> None:
        """A Shopify order (one delivery id for all its attempts), then its Stripe payment
        (one event id), as the store and the payment provider send and retry them."""
        key = f"chaos-delivery-{n}"
        ack = await client.shopify_order(9_000_000_000 + n, key)
        if ack.get("outcome") not in WEBHOOK_DONE:
            raise RuntimeError(f"store order {n}: {ack}")
        number = ack["order_number"]
        self.expected.numbers[key] = number
        order = await client.get(f"/api/orders/{number}")
        cents = int(Decimal(order["totals"]["total"]) * 100)
        first = time.monotonic()
        paid = await client.stripe_payment(f"chaos{n}", number, cents)
        if paid.get("outcome") not in WEBHOOK_DONE:
            raise RuntimeError(f"payment for {number}: {paid}")
        # A repeat is answered 200 `duplicate` while the first attempt's delivery is still
        # `received`, even when the process handling it was killed: a provider stops there and
        # the payment waits for a person's replay. Counted (the table shows it); then the
        # event is sent once more after the retake window, which acts on it.
        while paid["outcome"] == "duplicate":
            stored = await client.get(f"/api/webhook-deliveries/{paid['delivery']}")
            if stored["outcome"] != "received":
                break
            wait = RETAKE_SECONDS - (time.monotonic() - first)
            if wait > 0:  # perhaps still in flight: look again after the window
                await asyncio.sleep(wait)
                continue
            self.stuck_deliveries.add(number)
            paid = await client.stripe_payment(f"chaos{n}", number, cents)
            await asyncio.sleep(1.0)

    async def run(self, settle_seconds: float) -> tuple[float, float, bool]:
        """Post, kill, settle: (posting seconds, seconds to rest after it, settled)."""
        deadline = time.monotonic() + settle_seconds + self.kills * self.kill_every * 3 + 120
        client = RetryingClient(self.stack.config, self.retries, deadline)
        try:
            self.expected.initial_stock |= {sku: self.orders for sku in STORE_SKUS}
            for sku, on_hand in self.expected.initial_stock.items():
                product = {"sku": sku, "name": sku.title(), "price": "2.50", "on_hand": on_hand}
                await client.post("/api/products", product)
            customer = await client.post(
                "/api/customers", {"name": "Chaos", "email": "chaos@example.com"}
            )
            stop_watch = asyncio.Event()
            watch = asyncio.create_task(self._watch_stock(stop_watch))
            self.started = time.monotonic()
            killer = asyncio.create_task(self._kill_and_supervise())
            await self._post_orders(client, customer["id"])
            posted = time.monotonic() - self.started
            print(f"  {self.orders} orders posted in {posted:.1f} s", flush=True)
            await killer
            settled = await self._settle(time.monotonic() + settle_seconds)
            stop_watch.set()
            await watch
            return posted, time.monotonic() - self.started - posted, settled
        finally:
            await client.aclose()

    async def _settle(self, deadline: float) -> bool:
        """Until every order is completed or waits for stock that is not there, every mail is
        sent, and Temporal runs a workflow only for the waiting orders (parts that die on their
        own are started again meanwhile)."""
        client = None
        while time.monotonic() < deadline:
            for part in list(self.stack.parts):
                if not self.stack.running(part):
                    self.died[part] += 1
                    self.stack.start(part, wait=False)
            with contextlib.suppress(Exception):  # Temporal or the database still coming up
                if client is None:
                    settings = Settings(temporal_address=self.stack.config.temporal_address)
                    client = await connect(settings)
                if await asyncio.to_thread(self._db_at_rest):
                    running = await client.count_workflows(
                        'ExecutionStatus = "Running" AND WorkflowId STARTS_WITH "order-"'
                    )
                    if running.count == await asyncio.to_thread(self._waiting):
                        return True
            await asyncio.sleep(1.0)
        return False

    def _db_at_rest(self) -> bool:
        with Session(self.engine) as session:
            statuses = Counter(session.exec(select(SalesOrder.status)))
            pending = session.exec(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.PENDING)
            ).one()
            scarce = session.exec(select(Product).where(Product.sku == SCARCE)).one()
        done = statuses[OrderStatus.COMPLETED] + statuses[OrderStatus.BACKORDERED]
        stuck = statuses[OrderStatus.BACKORDERED] and scarce.on_hand - scarce.committed > 0
        return done == self.orders == sum(statuses.values()) and not pending and not stuck

    def _waiting(self) -> int:
        with Session(self.engine) as session:
            return session.exec(
                select(func.count())
                .select_from(SalesOrder)
                .where(SalesOrder.status == OrderStatus.BACKORDERED)
            ).one()


async def run_chaos(
    *,
    orders: int,
    kills: int,
    database: str = "sqlite",
    database_url: str | None = None,
    seed: int | None = None,
    kill_every: float = 5.0,
    settle_seconds: float = 600.0,
    folder: Path | None = None,
    **tuning: Any,
) -> ChaosReport:
    """One chaos run on a fresh database (or `database_url`); `tuning`: StackConfig fields."""
    seed = seed if seed is not None else random.SystemRandom().randrange(1_000_000)
    with contextlib.ExitStack() as cleanup:
        if folder is None:
            folder = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="chaos-")))
        url = database_url or fresh_database(database, folder)
        if database_url is None:
            cleanup.callback(drop_database, url)
        stack = Stack(StackConfig(database_url=url, folder=folder, **tuning))
        engine = make_engine(url, read_only=True)  # reads only: no SQLite write lock taken
        cleanup.callback(engine.dispose)
        cleanup.callback(stack.stop_all)
        print(
            f"chaos: seed {seed}, {orders} orders, {kills} kills, {url.split(':')[0]}, "
            f"logs in {stack.config.logs}",
            flush=True,
        )
        await asyncio.to_thread(stack.start_all)
        chaos = Chaos(stack, engine, orders=orders, kills=kills, seed=seed, kill_every=kill_every)
        posted, settle, settled = await chaos.run(settle_seconds)
        chaos.expected.kills = Counter(k.part for k in chaos.kill_log)
        client = await connect(Settings(temporal_address=stack.config.temporal_address))
        checks = await check_all(engine, client, stack.config.mail_dir, chaos.expected)
        return ChaosReport(
            seed=seed,
            database=url.split(":")[0].split("+")[0],
            orders=orders,
            kills=chaos.kill_log,
            checks=checks,
            died=chaos.died,
            retries=chaos.retries,
            errors=chaos.errors,
            stuck_deliveries=sorted(chaos.stuck_deliveries),
            posting_seconds=posted,
            settle_seconds=settle,
            settled=settled,
        )
    raise AssertionError("unreachable")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--database-url", default=None, help="an empty, migrated database")
    parser.add_argument("--seed", type=int, default=None, help="default: a random one, printed")
    parser.add_argument("--kill-every", type=float, default=5.0, help="mean seconds between kills")
    parser.add_argument(
        "--settle", type=float, default=600.0, help="seconds allowed to come to rest"
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep logs and data in this folder")
    args = parser.parse_args()
    # SIGTERM (and SIGINT, which a background job ignores otherwise) stop the run the way
    # Ctrl-C does: the stack's processes are stopped and the temporary database dropped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    report = asyncio.run(
        run_chaos(
            orders=args.orders,
            kills=args.kills,
            database=args.database,
            database_url=args.database_url,
            seed=args.seed,
            kill_every=args.kill_every,
            settle_seconds=args.settle,
            folder=args.keep,
        )
    )
    print()
    print(report.table())
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
