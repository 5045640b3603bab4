"""`conveyor backup` while orders run, `conveyor restore` into a fresh data folder: they carry on.

The embedded default as `conveyor dev` runs it, as real processes: a Temporal dev server with its
database in the data folder, SQLite for the business data there, a worker and `conveyor api`.
SQLite only: on PostgreSQL `conveyor backup` refuses (the last test), the README gives pg_dump.
"""

import asyncio
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from alembic import command as alembic
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlmodel import Session, col, func, select
from temporalio.client import Client
from temporalio.service import RPCError

from conveyor.core import temporal_server
from conveyor.core.db import make_engine
from conveyor.core.migrate import alembic_config, upgrade
from conveyor.core.settings import Settings
from conveyor.core.temporal import connect, order_workflow_id
from conveyor.inventory.models import StockMovement
from conveyor.invoice.models import Invoice, Payment
from conveyor.order.models import OrderEvent, SalesOrder
from tests.conftest import ADMIN_TOKEN, RULES, Mailbox
from tests.utils.api import create_customer, create_product, place_order, wait_for_order
from tests.utils.processes import ROOT, stop

ON_HAND = 500
QTY = 2
TASK_QUEUE = "conveyor-backup-test"


def _env(data_dir: Path, smtp_port: int, **extra: str) -> dict[str, str]:
    """The environment of a child on this data folder: the embedded default (no database URL)."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    return {
        **inherited,
        "CONVEYOR_DATA_DIR": str(data_dir),
        "CONVEYOR_ADMIN_TOKEN": ADMIN_TOKEN,
        "CONVEYOR_TASK_QUEUE": TASK_QUEUE,
        "CONVEYOR_RULES_DIR": str(RULES / "all_auto"),
        "CONVEYOR_SMTP_HOST": "127.0.0.1",
        "CONVEYOR_SMTP_PORT": str(smtp_port),
        # Restored, an activity that was under way is retried after this; a signal missed
        # between the two snapshots is found by the recheck.
        "CONVEYOR_ACTIVITY_TIMEOUT_SECONDS": "5",
        "CONVEYOR_BACKORDER_RECHECK_SECONDS": "5",
        **extra,
    }


def _conveyor(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "conveyor.cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _snapshot(database: Path, copy: Path) -> Path:
    """A copy of a live SQLite file by the backup API (as `conveyor backup` takes it)."""
    source, target = sqlite3.connect(database), sqlite3.connect(copy)
    source.backup(target)
    target.execute("PRAGMA journal_mode=DELETE")
    source.close()
    target.close()
    return copy


def _replace_in_backup(backup_dir: Path, copy: Path) -> None:
    """Put `copy` in the backup as its Temporal database, with its size and checksum."""
    shutil.copyfile(copy, backup_dir / "temporal.db")
    path = backup_dir / "manifest.json"
    manifest = json.loads(path.read_text())
    for entry in manifest["files"]:
        if entry["name"] == "temporal.db":
            entry["bytes"] = copy.stat().st_size
            entry["sha256"] = hashlib.sha256(copy.read_bytes()).hexdigest()
    path.write_text(json.dumps(manifest))


class Stack:
    """Temporal (its database in the data folder), a worker and `conveyor api` on free ports."""

    def __init__(self, data_dir: Path, smtp_port: int) -> None:
        self.data_dir = data_dir
        self.temporal_port = temporal_server.free_port()
        self.http_port = temporal_server.free_port()
        self.base = f"http://127.0.0.1:{self.http_port}"
        address = f"127.0.0.1:{self.temporal_port}"
        self.env = _env(data_dir, smtp_port, CONVEYOR_TEMPORAL_ADDRESS=address)
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        logs = self.data_dir.parent / f"{self.data_dir.name}-logs"
        logs.mkdir(exist_ok=True)
        self.processes.append(
            temporal_server.start_dev_server(
                port=self.temporal_port,
                db_file=self.data_dir / "temporal.db",
                log_file=logs / "temporal.log",
            )
        )
        upgrade(f"sqlite:///{self.data_dir / 'conveyor.db'}")
        for name, command in (
            ("worker", [sys.executable, "-m", "worker"]),
            (
                "api",
                [sys.executable, "-m", "conveyor.cli.main", "api", "--port", str(self.http_port)],
            ),
        ):
            with open(logs / f"{name}.log", "ab") as out:
                self.processes.append(
                    subprocess.Popen(
                        command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
                    )
                )

    async def wait_up(self) -> None:
        async with httpx.AsyncClient(base_url=self.base, timeout=5) as client:
            for _ in range(300):
                assert all(p.poll() is None for p in self.processes), "a process exited"
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError("the stack did not come up")

    def kill(self) -> None:
        """SIGKILL, all of them: the machine is gone, only the backup is left."""
        for process in reversed(self.processes):
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
            process.wait(15)

    async def temporal(self) -> Client:
        return await connect(Settings(temporal_address=f"127.0.0.1:{self.temporal_port}"))


@asynccontextmanager
async def running(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    try:
        stack.start()
        await stack.wait_up()
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with httpx.AsyncClient(base_url=stack.base, headers=headers, timeout=60) as api:
            yield api
    finally:
        for process in reversed(stack.processes):
            stop(process)


@pytest.mark.parametrize("temporal_behind", [False, True], ids=["as-taken", "temporal-behind"])
async def test_backup_mid_load_restores_into_a_fresh_folder_and_every_order_carries_on(
    tmp_path: Path, smtp_server: tuple[Mailbox, int], temporal_behind: bool
) -> None:
    """`temporal-behind`: the backup's Temporal copy is replaced by one taken seconds earlier,
    while orders ran, to show why Temporal's snapshot goes first: restored a while behind the
    business data, workflows run again activities whose effects are there (and repeat none),
    and orders whose workflow started in between are started again by the restore's sweep."""
    smtp_port = smtp_server[1]
    first = Stack(tmp_path / "first", smtp_port)
    backup_dir = tmp_path / "backup"
    placed_during: list[str] = []
    async with running(first) as api:
        product = await create_product(api, on_hand=ON_HAND, price="4.00")
        customer = await create_customer(api)

        async def order(prepaid: bool) -> str:
            placed = await place_order(
                api, customer["id"], [(product["sku"], QTY)], prepaid=prepaid, channel="web"
            )
            return placed["number"]

        done = [await order(True) for _ in range(3)]
        for number in done:
            await wait_for_order(api, number, lambda o: o["status"] == "completed", timeout=120)
        # Invoiced and shipped, waiting for the customer's money.
        waiting = [await order(False) for _ in range(3)]
        for number in waiting:
            await wait_for_order(api, number, lambda o: o["current_step"] == "collection")
        # A burst still on its way when the backup starts, and more coming in while it runs.
        burst = list(await asyncio.gather(*(order(True) for _ in range(12))))
        stopping = asyncio.Event()

        async def load() -> None:
            while not stopping.is_set():
                placed_during.append(await order(True))
                await asyncio.sleep(0.05)

        loader = asyncio.create_task(load())
        await asyncio.sleep(0.3)
        if temporal_behind:
            earlier = _snapshot(first.data_dir / "temporal.db", tmp_path / "earlier.db")
            await asyncio.sleep(3)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "conveyor.cli.main",
            "backup",
            str(backup_dir),
            cwd=ROOT,
            env=_env(first.data_dir, smtp_port),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await process.communicate()
        await asyncio.sleep(0.3)
        stopping.set()
        await loader
        first.kill()
    assert process.returncode == 0, out.decode()
    assert "temporal.db: copied" in out.decode() and "conveyor.db: copied" in out.decode()
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert {f["name"] for f in manifest["files"]} >= {"conveyor.db", "temporal.db"}
    assert manifest["alembic_revisions"] and manifest["created_at"].endswith("+00:00")
    if temporal_behind:
        _replace_in_backup(backup_dir, earlier)

    second = Stack(tmp_path / "second", smtp_port)  # a fresh folder: nothing of the first
    restored = _conveyor("restore", str(backup_dir), env=second.env)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "checksums good" in restored.stdout

    engine = make_engine(f"sqlite:///{second.data_dir / 'conveyor.db'}")
    with Session(engine) as session:
        at_backup = {o.number or "": o for o in session.exec(select(SalesOrder))}
    engine.dispose()
    assert set(done + waiting + burst) <= set(at_backup)
    assert all(at_backup[n].status == "completed" for n in done)
    in_flight = [n for n, o in at_backup.items() if o.prepaid and o.status != "completed"]
    assert in_flight, "the backup saw no order under way"
    after = [n for n in placed_during if n not in at_backup]  # placed after the snapshot

    async with running(second) as api:
        temporal = await second.temporal()
        for number in after:  # Temporal's snapshot is the earlier one: none of their workflows
            try:
                await temporal.get_workflow_handle(order_workflow_id(number)).describe()
            except RPCError:
                continue
            raise AssertionError(f"Temporal's copy has {number}, the business copy does not")
        for number in waiting:
            order_now = await wait_for_order(
                api, number, lambda o: o["current_step"] == "collection"
            )
            paid = await api.post(
                f"/api/orders/{number}/payments", json={"amount": order_now["totals"]["total"]}
            )
            assert paid.status_code == 201, paid.text
        for number in at_backup:
            await wait_for_order(api, number, lambda o: o["status"] == "completed", timeout=180)
        stock = (await api.get(f"/api/inventory/{product['sku']}")).json()

    numbers = sorted(at_backup)
    assert (stock["on_hand"], stock["committed"]) == (ON_HAND - QTY * len(numbers), 0)
    engine = make_engine(f"sqlite:///{second.data_dir / 'conveyor.db'}")
    with Session(engine) as session:
        for kind in ("commit", "pack"):
            rows = session.exec(
                select(StockMovement.order_number).where(StockMovement.kind == kind)
            ).all()
            assert sorted(rows) == numbers, kind
        ids = {o.id: n for n, o in at_backup.items()}
        invoices = Counter(ids[i] for i in session.exec(select(Invoice.order_id)).all())
        payments = Counter(ids[i] for i in session.exec(select(Payment.order_id)).all())
        assert invoices == payments == Counter(numbers)
        steps = session.exec(
            select(OrderEvent.order_id, func.count(), func.count(col(OrderEvent.step).distinct()))
            .where(OrderEvent.kind == "step_completed")
            .group_by(OrderEvent.order_id)
        ).all()
        assert {ids[i]: (n, d) for i, n, d in steps} == {n: (7, 7) for n in numbers}
    engine.dispose()


def test_backup_refuses_a_folder_with_files_and_restore_a_damaged_backup(
    tmp_path: Path, smtp_server: tuple[Mailbox, int]
) -> None:
    data = tmp_path / "data"
    env = _env(data, smtp_server[1])
    upgrade(f"sqlite:///{data / 'conveyor.db'}")
    missing = _conveyor("backup", str(tmp_path / "b"), env=env)
    assert missing.returncode == 2 and "no Temporal database" in missing.stderr
    # Temporal's dev server, stopped: the backup copies it offline as well.
    process = temporal_server.start_dev_server(
        port=temporal_server.free_port(), db_file=data / "temporal.db"
    )
    temporal_server.stop(process)

    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("keep me")
    refused = _conveyor("backup", str(occupied), env=env)
    assert refused.returncode == 2 and "is not empty" in refused.stderr
    assert sorted(p.name for p in occupied.iterdir()) == ["notes.txt"]
    forced = _conveyor("backup", str(occupied), "--force", env=env)
    assert forced.returncode == 0, forced.stderr
    assert (occupied / "notes.txt").read_text() == "keep me"

    backup_dir = tmp_path / "backup"
    assert _conveyor("backup", str(backup_dir), env=env).returncode == 0
    target = _env(tmp_path / "fresh", smtp_server[1])
    (backup_dir / "conveyor.db").write_bytes(
        (backup_dir / "conveyor.db").read_bytes()[:-1] + b"\x01"
    )
    damaged = _conveyor("restore", str(backup_dir), env=target)
    assert damaged.returncode == 2 and "damaged" in damaged.stderr
    assert not (tmp_path / "fresh" / "conveyor.db").exists()
    not_a_backup = _conveyor("restore", str(tmp_path), env=target)
    assert not_a_backup.returncode == 2 and "not a Conveyor backup" in not_a_backup.stderr

    good = _conveyor("restore", str(occupied), env=target)
    assert good.returncode == 0, good.stderr
    again = _conveyor("restore", str(occupied), env=target)  # the fresh folder has databases
    assert again.returncode == 2 and "--force" in again.stderr
    assert _conveyor("restore", str(occupied), "--force", env=target).returncode == 0
    with open(tmp_path / "fresh" / "conveyor.db", "rb"):  # open: as a running API has it
        busy = _conveyor("restore", str(occupied), "--force", env=target)
    assert busy.returncode == 2 and "in use" in busy.stderr, busy.stderr


def test_backup_and_restore_refuse_postgresql(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")} | {
        "CONVEYOR_DATA_DIR": str(tmp_path / "data"),
        "CONVEYOR_DATABASE_URL": "postgresql://conveyor@127.0.0.1:5432/conveyor",
    }
    for command in ("backup", "restore"):
        refused = _conveyor(command, str(tmp_path / "backup"), env=env)
        assert refused.returncode == 2, refused.stderr
        assert "pg_dump" in refused.stderr and "README" in refused.stderr
    assert not (tmp_path / "backup").exists()


def test_restore_migrates_an_older_backup_and_refuses_a_newer(
    tmp_path: Path, smtp_server: tuple[Mailbox, int]
) -> None:
    data = tmp_path / "data"
    old_url = f"sqlite:///{data / 'conveyor.db'}"
    alembic.upgrade(alembic_config(old_url), "0030")  # a database of an older Conveyor
    temporal_server.stop(
        temporal_server.start_dev_server(
            port=temporal_server.free_port(), db_file=data / "temporal.db"
        )
    )
    backup_dir = tmp_path / "backup"
    assert _conveyor("backup", str(backup_dir), env=_env(data, smtp_server[1])).returncode == 0
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert manifest["alembic_revisions"] == ["0030"]

    fresh = tmp_path / "fresh"
    restored = _conveyor("restore", str(backup_dir), env=_env(fresh, smtp_server[1]))
    assert restored.returncode == 0, restored.stderr
    assert "older Conveyor: migrating" in restored.stdout
    heads = ScriptDirectory.from_config(alembic_config(old_url)).get_heads()
    engine = make_engine(f"sqlite:///{fresh / 'conveyor.db'}")
    with engine.connect() as connection:
        found = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
        assert sorted(found) == sorted(heads)
    engine.dispose()

    manifest["alembic_revisions"] = ["9999"]  # as a newer Conveyor would write it
    (backup_dir / "manifest.json").write_text(json.dumps(manifest))
    newer = _conveyor("restore", str(backup_dir), "--force", env=_env(fresh, smtp_server[1]))
    assert newer.returncode == 2 and "newer Conveyor" in newer.stderr
