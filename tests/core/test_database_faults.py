"""Database faults under work: PostgreSQL connections cut, SQLite locked by another writer.

The API answers 2xx or 503 (never 500), activities fail and are retried by Temporal, and every
order completes exactly once: one invoice and payment each, the stock ledger balanced, no trail
step or mail recorded twice.
"""

import asyncio
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import httpx
import psycopg
import pytest
import pytest_asyncio
from pydantic import SecretStr
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.worker import Worker

from api.main import create_app
from conveyor.core.db import (
    DATABASE_BUSY,
    DATABASE_UNREACHABLE,
    RETRY_AFTER_SECONDS,
    make_engine,
    outage,
)
from conveyor.core.failures import log as activity_failures_log
from conveyor.core.settings import Settings
from conveyor.customer.models import Customer
from conveyor.inventory.models import StockMovement
from conveyor.invoice.models import Invoice, Payment
from conveyor.notification.models import OutboxMessage
from conveyor.order.models import OrderEvent, SalesOrder
from tests.conftest import ADMIN_TOKEN
from tests.utils.api import create_customer, create_product
from tests.utils.pages import PageClient
from tests.webhook.conftest import SHOPIFY_SECRET, post_shopify, shopify_order
from worker import build_worker

STEPS = 7  # an all-auto prepaid order completes seven steps
QTY = 2
BUSY_SECONDS = 1.0  # the shortened SQLite busy timeout
OUTAGE_DETAILS = (DATABASE_BUSY, DATABASE_UNREACHABLE)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test settings with a short SQLite busy timeout, so a held lock outlasts it quickly."""
    return settings.model_copy(
        update={
            "sqlite_busy_timeout_seconds": BUSY_SECONDS,
            "shopify_secret": SecretStr(SHOPIFY_SECRET),
        }
    )


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The worker's engine, with the same short busy timeout as the API's."""
    engine = make_engine(database_url, busy_timeout_seconds=BUSY_SECONDS)
    yield engine
    engine.dispose()


@pytest_asyncio.fixture
async def api(settings: Settings, temporal_client: Client) -> AsyncIterator[httpx.AsyncClient]:
    """The real app with its lifespan (the sweep starts what a cut starter missed)."""
    app = create_app(settings)
    app.state.conveyor._client = temporal_client
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://conveyor.test",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=60,
        ) as client,
    ):
        yield client
    app.state.conveyor.engine.dispose()
    app.state.conveyor.read_engine.dispose()


class Answers:
    """Every status the API gave, for the never-500 check."""

    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()

    async def call(self, api: httpx.AsyncClient, method: str, url: str, **kw) -> httpx.Response:
        """Send until the answer is not a database 503 (as a client honouring Retry-After)."""
        deadline = time.monotonic() + 120
        while True:
            response = await api.request(method, url, **kw)
            self.statuses[response.status_code] += 1
            if response.status_code != 503:
                return response
            assert response.json()["detail"] in OUTAGE_DETAILS, response.text
            assert response.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
            assert time.monotonic() < deadline, "the database stayed unavailable"
            await asyncio.sleep(0.2)

    async def place(self, api: httpx.AsyncClient, customer_id: int, sku: str) -> str:
        """A prepaid order, its POST repeated with one Idempotency-Key until answered."""
        body = {
            "customer_id": customer_id,
            "prepaid": True,
            "channel": "web",
            "lines": [{"sku": sku, "qty": QTY}],
        }
        key = {"Idempotency-Key": uuid.uuid4().hex}
        response = await self.call(api, "POST", "/api/orders", json=body, headers=key)
        assert response.status_code == 201, response.text
        return response.json()["number"]

    async def wait_completed(self, api: httpx.AsyncClient, number: str) -> None:
        deadline = time.monotonic() + 180
        while True:
            response = await self.call(api, "GET", f"/api/orders/{number}")
            assert response.status_code == 200, response.text
            if response.json()["status"] == "completed":
                return
            assert time.monotonic() < deadline, f"order {number} not completed: {response.text}"
            await asyncio.sleep(0.3)


async def assert_each_order_once(
    api: httpx.AsyncClient, engine: Engine, numbers: list[str], sku: str, on_hand: int
) -> None:
    """Every order done exactly once: no order, invoice, payment, move, step or mail twice."""
    with Session(engine) as session:
        orders = session.exec(select(SalesOrder).where(col(SalesOrder.number).in_(numbers))).all()
        assert sorted(o.number for o in orders) == sorted(numbers)
        count = session.exec(select(func.count()).select_from(SalesOrder)).one()
        assert count == len(numbers), "an order was recorded twice"
        assert session.exec(select(func.count()).select_from(Invoice)).one() == len(numbers)
        assert session.exec(select(func.count()).select_from(Payment)).one() == len(numbers)
        for kind in ("commit", "pack"):
            moved = session.exec(
                select(StockMovement.order_number).where(StockMovement.kind == kind)
            ).all()
            assert sorted(moved) == sorted(numbers), kind
        for order in orders:
            steps = session.exec(
                select(OrderEvent.step)
                .where(OrderEvent.order_id == order.id)
                .where(OrderEvent.kind == "step_completed")
            ).all()
            assert len(steps) == len(set(steps)) == STEPS, (order.number, steps)
            kinds = session.exec(
                select(OutboxMessage.kind).where(OutboxMessage.order_number == order.number)
            ).all()
            assert kinds and len(kinds) == len(set(kinds)), (order.number, kinds)
    stock = (await api.get(f"/api/inventory/{sku}")).json()
    left = on_hand - QTY * len(numbers)
    assert (stock["on_hand"], stock["committed"], stock["available"]) == (left, 0, left)


async def running_worker(
    client: Client, engine: Engine, settings: Settings
) -> tuple[Worker, asyncio.Task[None]]:
    """An in-process worker started now (the SQLite test starts it with the lock held)."""
    built = build_worker(client, engine, settings)
    return built, asyncio.create_task(built.run())


async def stop_worker(built: Worker, running: asyncio.Task[None]) -> None:
    """Shut the worker down, bounded as the conftest worker's shutdown is."""
    async with asyncio.timeout(60):
        await built.shutdown()
        await running


# ---- SQLite: another writer holds the lock past the busy timeout ---------------------------

LOCKER = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
connection.execute("ROLLBACK")
"""


def _hold_lock(database_url: str) -> subprocess.Popen:
    """Another process that takes the SQLite file's write lock and holds it until told."""
    path = database_url.split("///", 1)[1]
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
    return locker


def _release(locker: subprocess.Popen) -> None:
    assert locker.stdin is not None
    locker.stdin.write("release\n")
    locker.stdin.flush()
    assert locker.wait(15) == 0


async def _retrying(client: Client, numbers: list[str]) -> int:
    """How many of the orders' activities Temporal is retrying (attempt past the first)."""
    retrying = 0
    for number in numbers:
        description = await client.get_workflow_handle(f"order-{number}").describe()
        pending = description.raw_description.pending_activities
        retrying += sum(1 for activity in pending if activity.attempt > 1)
    return retrying


# The worker logs an activity's whole exception here before Temporal gets its bounded form.
ACTIVITY_FAILURES = activity_failures_log.name


def _failed_busy(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The worker's activities that failed because the database was busy."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == ACTIVITY_FAILURES
        and record.exc_info
        and outage(record.exc_info[1]) == DATABASE_BUSY
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sqlite_locked_by_another_writer(
    api: httpx.AsyncClient,
    engine: Engine,
    settings: Settings,
    temporal_client: Client,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    answers = Answers()
    on_hand = 50
    product = await create_product(api, on_hand=on_hand, price="4.00")
    customer = await create_customer(api, email="c@example.com")
    numbers = [await answers.place(api, customer["id"], product["sku"]) for _ in range(4)]
    # The workflows start (no worker yet) and are marked started before the lock is taken.
    deadline = time.monotonic() + 30
    while True:
        with Session(engine) as session:
            waiting = session.exec(
                select(func.count())
                .select_from(SalesOrder)
                .where(SalesOrder.workflow_started == False)  # noqa: E712
            ).one()
        if not waiting:
            break
        assert time.monotonic() < deadline, "workflows not started"
        await asyncio.sleep(0.1)
    staff = PageClient(api)
    await staff.open()
    assert (await staff.post("/login", {"kind": "staff", "token": ADMIN_TOKEN})).status_code == 303
    await staff.refresh_csrf("/customers/new")

    # The lock first, then the worker: its first activities meet the lock.
    locker = _hold_lock(database_url)
    built, running = await running_worker(temporal_client, engine, settings)
    try:
        try:
            # A mutation waits out the busy timeout, then answers 503 with the reason.
            key = {"Idempotency-Key": uuid.uuid4().hex}
            body = {
                "customer_id": customer["id"],
                "prepaid": True,
                "channel": "web",
                "lines": [{"sku": product["sku"], "qty": QTY}],
            }
            for method, url, kw in (
                ("POST", "/api/orders", {"json": body, "headers": key}),
                ("POST", "/api/customers", {"json": {"name": "D", "email": "d@example.com"}}),
            ):
                refused = await api.request(method, url, **kw)
                assert refused.status_code == 503, refused.text
                assert refused.json() == {"detail": DATABASE_BUSY}
                assert refused.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
            # A store's delivery too: a 503 it retries, not a 500.
            delivered = await post_shopify(api, shopify_order("5550001"))
            assert delivered.status_code == 503, delivered.text
            assert delivered.json() == {"detail": DATABASE_BUSY}
            # Readers go on beside the writer (WAL).
            assert (await api.get(f"/api/orders/{numbers[0]}")).status_code == 200
            # A page says what is wrong.
            form = {"name": "E", "email": "e@example.com", "group": "trade", "country": "DE"}
            form |= {"credit_limit": "1000.00", "payment_terms_days": "14", "account_rep_id": ""}
            page = await staff.post("/customers/new", form)
            assert page.status_code == 503
            assert page.headers["content-type"].startswith("text/html")
            assert "Unavailable right now" in page.text
            assert "The database is busy: another program has held it locked" in page.text
            # The worker's activities meet the lock too: they fail and Temporal retries them.
            deadline = time.monotonic() + 30
            while not await _retrying(temporal_client, numbers):
                assert time.monotonic() < deadline, "no activity retried on the lock"
                await asyncio.sleep(0.3)
            assert any("begin_order" in failed for failed in _failed_busy(caplog))
        finally:
            _release(locker)
        # After the release: the refused order, sent again with its key, counts once; every
        # order completes.
        placed = await answers.call(api, "POST", "/api/orders", json=body, headers=key)
        assert placed.status_code == 201, placed.text
        numbers.append(placed.json()["number"])
        for number in numbers:
            await answers.wait_completed(api, number)
    finally:
        await staff.aclose()
        await stop_worker(built, running)
    await assert_each_order_once(api, engine, numbers, product["sku"], on_hand)
    with Session(engine) as session:
        emails = session.exec(select(Customer.email)).all()
    assert sorted(emails) == ["c@example.com"], "a refused write was kept"
    assert set(answers.statuses) <= {200, 201}, answers.statuses


# ---- PostgreSQL: every connection of the database cut, several times, under load ------------

ORDERS = 16
CUTS = 6
KILL = (
    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


async def _cut_connections(database_url: str, stop: asyncio.Event) -> list[int]:
    """Terminate every other backend of the test database CUTS times; how many each time."""
    plain = database_url.replace("postgresql+psycopg://", "postgresql://")
    cut: list[int] = []
    async with await psycopg.AsyncConnection.connect(plain, autocommit=True) as killer:
        while len(cut) < CUTS and not stop.is_set():
            await asyncio.sleep(0.7)
            row = await (await killer.execute(KILL)).fetchone()
            cut.append(row[0] if row else 0)
    return cut


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_postgres_connections_cut_under_load(
    api: httpx.AsyncClient,
    engine: Engine,
    worker: None,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    answers = Answers()
    on_hand = 200
    product = await create_product(api, on_hand=on_hand, price="3.00")
    customer = await create_customer(api)

    done = asyncio.Event()
    cutting = asyncio.create_task(_cut_connections(database_url, done))
    gate = asyncio.Semaphore(4)

    async def order_once() -> str:
        async with gate:
            number = await answers.place(api, customer["id"], product["sku"])
        await answers.wait_completed(api, number)
        return number

    try:
        numbers = await asyncio.gather(*(order_once() for _ in range(ORDERS)))
    finally:
        done.set()
        cut = await cutting
    assert sum(cut) > 0, cut
    await assert_each_order_once(api, engine, list(numbers), product["sku"], on_hand)
    # Every answer was a success or a 503 naming the database: never a 500.
    assert set(answers.statuses) <= {200, 201, 503}, answers.statuses
    failed = [r for r in caplog.records if r.name == ACTIVITY_FAILURES and r.exc_info is not None]
    assert failed or answers.statuses[503], "the cuts met no work in flight"
    assert all(outage(r.exc_info[1]) for r in failed if r.exc_info), "an activity failed otherwise"
    print(
        f"connections cut per round: {cut}; answers: {dict(answers.statuses)}; "
        f"activity attempts failed on a cut connection: {len(failed)}"
    )
