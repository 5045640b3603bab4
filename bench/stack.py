"""The Conveyor stack as real processes that can be killed: Temporal, mail sink, worker, API.

Each part is a child in its own session (`temporal server start-dev` on a database file,
`conveyor mail-sink` on a folder, `python -m worker`, `conveyor api`), on fixed ports and
folders, so a part killed with SIGKILL and started again carries on with the same state, and
the others (and an HTTP client) find it where it was. Used by `bench/chaos.py` and its test.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from conveyor.core import temporal_server
from conveyor.core.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
ALL_AUTO = ROOT / "tests" / "fixtures" / "rules" / "all_auto"
ADMIN_TOKEN = "chaos-admin-token-0123456789"
PG_ADMIN_URL = os.environ.get(
    "CONVEYOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
PARTS = ("temporal", "mail-sink", "worker", "api")
START_SECONDS = 90.0


def fresh_database(kind: str, folder: Path) -> str:
    """A new, migrated database: a SQLite file in `folder`, or a new PostgreSQL database."""
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'conveyor.db'}"
    elif kind == "postgresql":
        name = f"conveyor_chaos_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        url = f"{base}/{name}"
    else:
        raise ValueError(f"unknown database {kind!r}: sqlite or postgresql")
    upgrade(url)
    return url


def drop_database(url: str) -> None:
    """Drop a PostgreSQL database `fresh_database` made (SQLite files go with their folder)."""
    if not url.startswith("postgresql"):
        return
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class StackConfig:
    """Where the stack keeps its state and how it is tuned (short timeouts for a quick run)."""

    database_url: str
    folder: Path
    task_queue: str = field(default_factory=lambda: f"chaos-{uuid.uuid4().hex[:6]}")
    temporal_port: int = field(default_factory=temporal_server.free_port)
    smtp_port: int = field(default_factory=temporal_server.free_port)
    http_port: int = field(default_factory=temporal_server.free_port)
    rules_dir: Path = ALL_AUTO
    activity_timeout_seconds: float = 20.0
    backorder_recheck_seconds: float = 30.0
    outbox_retry_max_seconds: float = 2.0
    shopify_secret: str = "chaos-shopify-secret-0123456789"
    stripe_secret: str = "whsec_chaos_0123456789abcdef"

    @property
    def mail_dir(self) -> Path:
        return self.folder / "mail"

    @property
    def logs(self) -> Path:
        return self.folder / "logs"

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def env(self) -> dict[str, str]:
        """The environment of the worker and API processes."""
        return {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "CONVEYOR_DATABASE_URL": self.database_url,
            "CONVEYOR_TEMPORAL_ADDRESS": self.temporal_address,
            "CONVEYOR_TASK_QUEUE": self.task_queue,
            "CONVEYOR_RULES_DIR": str(self.rules_dir),
            "CONVEYOR_ADMIN_TOKEN": ADMIN_TOKEN,
            "CONVEYOR_DATA_DIR": str(self.folder / "data"),
            "CONVEYOR_SMTP_HOST": "127.0.0.1",
            "CONVEYOR_SMTP_PORT": str(self.smtp_port),
            "CONVEYOR_HTTP_PORT": str(self.http_port),
            "CONVEYOR_ACTIVITY_TIMEOUT_SECONDS": str(self.activity_timeout_seconds),
            "CONVEYOR_BACKORDER_RECHECK_SECONDS": str(self.backorder_recheck_seconds),
            "CONVEYOR_OUTBOX_RETRY_MAX_SECONDS": str(self.outbox_retry_max_seconds),
            "CONVEYOR_SHOPIFY_SECRET": self.shopify_secret,
            "CONVEYOR_STRIPE_SECRET": self.stripe_secret,
        }


@dataclass
class Part:
    """One child process of the stack and what happened to it."""

    name: str
    command: list[str]
    port: int | None
    process: subprocess.Popen | None = None
    starts: int = 0
    kills: int = 0
    died: int = 0  # exits nobody asked for (restarted like a kill)


class Stack:
    """Start, SIGKILL and restart the parts; `supervise` restarts any part that died."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        config.logs.mkdir(parents=True, exist_ok=True)
        config.mail_dir.mkdir(parents=True, exist_ok=True)
        python = sys.executable
        cli = [python, "-m", "conveyor.cli.main"]
        sink = ["mail-sink", "--port", str(config.smtp_port), "--folder", str(config.mail_dir)]
        temporal = temporal_server.dev_server_command(
            port=config.temporal_port, ui_port=None, db_file=config.folder / "temporal.db"
        )
        self.parts = {
            "temporal": Part("temporal", temporal, config.temporal_port),
            "mail-sink": Part("mail-sink", [*cli, *sink], config.smtp_port),
            "worker": Part("worker", [python, "-m", "worker"], None),
            "api": Part("api", [*cli, "api", "--port", str(config.http_port)], config.http_port),
        }

    def start(self, name: str, *, wait: bool = True) -> None:
        """Start a part (again), and wait until it listens on its port if it has one."""
        part = self.parts[name]
        with open(self.config.logs / f"{name}.log", "ab") as log:
            log.write(f"\n---- start {part.starts + 1} at {time.strftime('%X')}\n".encode())
            log.flush()
            part.process = subprocess.Popen(
                part.command,
                cwd=ROOT,
                env=self.config.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        part.starts += 1
        if wait and part.port is not None:
            temporal_server.wait_for_port(part.port, timeout=START_SECONDS, process=part.process)

    def start_all(self) -> None:
        """Temporal and the mail sink first (the worker needs them), then the worker and API."""
        for name in PARTS:
            self.start(name)

    def kill(self, name: str) -> None:
        """SIGKILL the part's whole process group: no shutdown of any kind."""
        part = self.parts[name]
        if part.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(part.process.pid, signal.SIGKILL)
        part.process.wait(30)
        part.kills += 1

    def running(self, name: str) -> bool:
        process = self.parts[name].process
        return process is not None and process.poll() is None

    def supervise(self) -> list[str]:
        """Start again every part that exited on its own; the names restarted."""
        restarted = []
        for name, part in self.parts.items():
            if part.process is not None and part.process.poll() is not None:
                part.died += 1
                self.start(name, wait=False)
                restarted.append(name)
        return restarted

    def stop_all(self, grace_seconds: float = 5.0) -> None:
        """SIGTERM every part at once, and SIGKILL what still runs after `grace_seconds` (or
        when interrupted meanwhile): nothing is left behind."""
        live = [p.process for p in self.parts.values() if p.process and p.process.poll() is None]
        for process in live:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        try:
            for process in live:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(max(deadline - time.monotonic(), 0.01))
        finally:
            for process in live:
                if process.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait(10)
