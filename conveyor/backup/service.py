"""`conveyor backup` and `conveyor restore`: the embedded default's two databases, together.

`conveyor dev` keeps the business data in SQLite (`DATA_DIR/conveyor.db`, or the file of a
`sqlite:` CONVEYOR_DATABASE_URL) and Temporal's dev server keeps the workflows in
`DATA_DIR/temporal.db`. A backup copies both with SQLite's online backup API while orders run:
each copy is one consistent snapshot of its file (a read transaction, which in WAL mode holds
no writer up), and the two snapshots are taken one right after the other, Temporal's first.

Why Temporal's snapshot comes first. Every flow writes the business database before it tells
Temporal: an activity commits its effect, then reports itself complete; an order is committed,
then its workflow is started (order/flows.py). So whatever Temporal's snapshot knows happened,
the business snapshot, taken after it, holds too. Restored, Temporal is at most a moment behind
the business data: a workflow replays from where its copy stood and runs again the activities
that had finished in between, and those are idempotent (keyed by order and step, backed by
unique constraints), so they find their effect already there and do not repeat it; signals
missed in between (a payment, a stock receipt) are found by the workflows' safety rechecks.
The other way round (business first) would lose work for good: Temporal would know of
activities, and of whole orders, whose effects the business copy never saw, and skip them;
and order numbers handed out after the business snapshot would be given again to new orders
whose workflow ids Temporal already holds.

What the order leaves open: an order whose workflow start falls between the two snapshots is
marked started in the business copy, but Temporal's copy has no workflow for it. A restore
therefore marks every unfinished order "to start" again; the API's sweep starts those whose
workflow is missing, and for the others Temporal refuses the duplicate start (the workflow id
is `order-<number>`), which counts as started.
"""

import hashlib
import json
import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlmodel import col, update

from conveyor.core.db import make_engine, session_scope
from conveyor.core.migrate import alembic_config, upgrade
from conveyor.core.settings import Settings
from conveyor.order.enums import OrderStatus
from conveyor.order.models import SalesOrder

MANIFEST = "manifest.json"
FORMAT = 1
BUSINESS = "conveyor.db"
# `conveyor dev` runs the Temporal dev server with `--db-filename DATA_DIR/temporal.db`.
TEMPORAL = "temporal.db"
# Small files of the data folder worth keeping along: the signing key of session cookies and
# signed links (supplier confirmations), `conveyor dev`'s admin token and demo accounts.
EXTRAS = ("session-secret", "admin-token", "demo-accounts.json")
# Pages copied per step of the backup API (4 MB of 4 KB pages): the progress shown between.
STEP_PAGES = 1024
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
POSTGRES = (
    "the business database is not SQLite: on PostgreSQL back up with pg_dump, Conveyor's "
    "database and Temporal's together (README.md, Production, Backups)"
)

Report = Callable[[str], None]


class BackupError(Exception):
    """A refusal: the message says why, and what to do instead."""


@dataclass(frozen=True)
class Places:
    """Where the embedded default keeps its two databases."""

    data_dir: Path
    business: Path
    temporal: Path
    url: str


def places(settings: Settings) -> Places:
    """The database files of these settings; BackupError unless the business data is SQLite."""
    if not settings.is_sqlite:
        raise BackupError(POSTGRES)
    url = settings.effective_database_url
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(f"the database {url} is not a file")
    data_dir = settings.data_dir.resolve()
    return Places(data_dir, Path(database).resolve(), data_dir / TEMPORAL, url)


# ---- backup -----------------------------------------------------------------------------------


def backup(
    settings: Settings, target: Path, *, force: bool = False, report: Report = print
) -> dict:
    """Copy both databases (and the small extras) into `target`; returns the manifest written.

    Refuses a `target` that has files in it unless `force`. The manifest goes in last, so a
    backup that stopped half-way has none and `restore` refuses it.
    """
    where = places(settings)
    if not where.business.exists():
        raise BackupError(f"no database at {where.business}: nothing to back up")
    if not where.temporal.exists():
        raise BackupError(
            f"no Temporal database at {where.temporal}: `conveyor dev` keeps it there. Without "
            "it a restore would lose every running order; with a Temporal server of your own, "
            "back up its store with the business database (README.md, Production, Backups)"
        )
    if target.exists() and not target.is_dir():
        raise BackupError(f"{target} is not a folder")
    if target.exists() and any(target.iterdir()) and not force:
        raise BackupError(f"{target} is not empty: choose an empty folder, or --force to replace")
    target.mkdir(parents=True, exist_ok=True)
    report(f"backing up {where.temporal} (first), then {where.business}, to {target}")
    work = target / f".partial-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    try:
        taken_at, files = _copy_databases(where, work, settings, report)
        for name in EXTRAS:
            if (where.data_dir / name).is_file():
                shutil.copy2(where.data_dir / name, work / name)
                files.append(name)
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "created_at": taken_at.isoformat(),
            "conveyor_version": _conveyor_version(),
            "alembic_revisions": _revisions(work / BUSINESS),
            "snapshot_order": [TEMPORAL, BUSINESS],
            "files": [_describe(work / name) for name in files],
        }
        (target / MANIFEST).unlink(missing_ok=True)
        for name in files:
            os.replace(work / name, target / name)
        _write_atomically(target / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    total = sum(entry["bytes"] for entry in manifest["files"])
    report(f"backup of {taken_at:%Y-%m-%d %H:%M:%S} UTC in {target} ({_size(total)})")
    return manifest


def _copy_databases(
    where: Places, work: Path, settings: Settings, report: Report
) -> tuple[datetime, list[str]]:
    """Snapshot Temporal's file, then the business one, then copy both from their snapshots."""
    timeout = settings.sqlite_busy_timeout_seconds
    sources = [(TEMPORAL, where.temporal), (BUSINESS, where.business)]
    connections: list[tuple[str, sqlite3.Connection]] = []
    try:
        for name, path in sources:
            connection = sqlite3.connect(path, timeout=timeout, isolation_level=None)
            connections.append((name, connection))
            connection.execute("PRAGMA query_only=ON")
        # The snapshots: in WAL mode a read transaction sees the file as of its first read,
        # whatever others write meanwhile; the backups below read from them.
        for _, connection in connections:
            connection.execute("BEGIN")
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        taken_at = datetime.now(UTC)
        for name, connection in connections:
            _copy(connection, work / name, report)
    finally:
        for _, connection in connections:
            connection.close()
    return taken_at, [name for name, _ in sources]


def _copy(source: sqlite3.Connection, path: Path, report: Report) -> None:
    shown = [-1]

    def progress(_status: int, remaining: int, total: int) -> None:
        tenth = (total - remaining) * 10 // max(total, 1)
        if tenth > shown[0] and total > STEP_PAGES:
            shown[0] = tenth
            report(f"  {path.name}: {tenth * 10}% of {total} pages")

    target = sqlite3.connect(path, isolation_level=None)
    try:
        source.backup(target, pages=STEP_PAGES, progress=progress)
        # The copy carries the source's WAL flag; a plain journal makes it one self-contained file.
        target.execute("PRAGMA journal_mode=DELETE")
        check = target.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"the copy of {path.name} fails SQLite's check: {check}")
    finally:
        target.close()
    report(f"  {path.name}: copied ({_size(path.stat().st_size)})")


def _revisions(database: Path) -> list[str]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        connection.close()
    return sorted(row[0] for row in rows)


def _conveyor_version() -> str:
    try:
        return package_version("conveyor")
    except PackageNotFoundError:
        return "unknown"


def _describe(path: Path) -> dict[str, Any]:
    return {"name": path.name, "bytes": path.stat().st_size, "sha256": _sha256(path)}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _size(count: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count} bytes"  # pragma: no cover (the loop returns)


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    with open(partial, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)


# ---- restore ----------------------------------------------------------------------------------


def verify(source: Path) -> dict:
    """The backup's manifest, once every file in it is there with its size and checksum."""
    path = source / MANIFEST
    if not path.is_file():
        raise BackupError(f"{source} is not a Conveyor backup (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = {entry["name"]: entry for entry in manifest["files"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"{path} is not a backup manifest ({exc})") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: backup format {manifest.get('format')!r} is not {FORMAT}")
    missing = [name for name in (BUSINESS, TEMPORAL) if name not in files]
    if missing:
        raise BackupError(f"{path} lists no {', '.join(missing)}")
    for name, entry in files.items():
        if Path(name).name != name or name.startswith("."):
            raise BackupError(f"{path}: {name!r} is not a file name")
        copy = source / name
        if not copy.is_file():
            raise BackupError(f"the backup is incomplete: {copy} is missing")
        if copy.stat().st_size != entry["bytes"] or _sha256(copy) != entry["sha256"]:
            raise BackupError(
                f"the backup is damaged: {copy} does not match its size and checksum in {MANIFEST}"
            )
    return manifest


def restore(
    settings: Settings, source: Path, *, force: bool = False, report: Report = print
) -> dict:
    """Put the backup in `source` in place of the data folder's databases; returns its manifest.

    Refuses while a process has the databases open, and, unless `force`, when there are any to
    replace. Migrates a backup made by an older Conveyor, then marks the unfinished orders to be
    started again where their workflow is missing (the module's docstring says why).
    """
    where = places(settings)
    manifest = verify(source)
    report(
        f"backup of {manifest.get('created_at')} (Conveyor {manifest.get('conveyor_version')}) "
        f"in {source}: checksums good"
    )
    script = ScriptDirectory.from_config(alembic_config(where.url))
    known = {revision.revision for revision in script.walk_revisions()}
    unknown = sorted(set(manifest.get("alembic_revisions") or []) - known)
    if unknown:
        raise BackupError(
            f"the backup is of a newer Conveyor (database revision {', '.join(unknown)} is "
            "unknown here): restore it with that version"
        )
    targets = {BUSINESS: where.business, TEMPORAL: where.temporal}
    everything = [
        Path(f"{path}{suffix}")
        for path in targets.values()
        # -writer: the writers' flock (conveyor/core/db.py), open in every Conveyor process
        for suffix in ("", *SQLITE_SIDE_FILES, "-writer")
    ]
    users = processes_using(everything)
    if users:
        raise BackupError(
            f"the databases in {where.data_dir} are in use (process {', '.join(map(str, users))}"
            "): stop `conveyor dev` (or the API, the worker and Temporal) first"
        )
    present = [path for path in everything if path.exists()]
    if present and not force:
        raise BackupError(
            f"{where.data_dir} already has databases ({', '.join(p.name for p in present)}): "
            "--force replaces them, and what they hold now is lost"
        )
    for name, path in targets.items():
        _put(source / name, path)
        report(f"  {name}: restored to {path}")
    extras = [entry["name"] for entry in manifest["files"] if entry["name"] in EXTRAS]
    for name in extras:
        _put(source / name, where.data_dir / name)
    if set(manifest.get("alembic_revisions") or []) != set(script.get_heads()):
        report("  the backup is of an older Conveyor: migrating its database")
        upgrade(where.url)
    again = _mark_unfinished_to_start(where.url)
    report(
        f"restored into {where.data_dir}; {again} unfinished orders are checked against "
        "Temporal when the API starts (`conveyor dev`)"
    )
    return manifest


def _put(copy: Path, path: Path) -> None:
    """Copy a file in under a temporary name, then in place of `path` (side files gone first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.restoring")
    shutil.copy2(copy, partial)
    with open(partial, "rb") as data:
        os.fsync(data.fileno())
    for suffix in SQLITE_SIDE_FILES:  # an old WAL beside the new file would be read into it
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    os.replace(partial, path)


def _mark_unfinished_to_start(url: str) -> int:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            result = session.exec(
                update(SalesOrder)
                .where(col(SalesOrder.workflow_started).is_(True))
                .where(
                    col(SalesOrder.status).not_in([OrderStatus.COMPLETED, OrderStatus.CANCELLED])
                )
                .values(workflow_started=False)
            )
            return result.rowcount
    finally:
        engine.dispose()


def processes_using(paths: Iterable[Path]) -> list[int]:
    """The processes (of this user; Linux /proc) that have one of these files open."""
    wanted = {str(path) for path in paths}
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        if int(entry.name) == os.getpid():
            continue
        try:
            links = [os.readlink(fd) for fd in (entry / "fd").iterdir()]
        except OSError:  # gone meanwhile, or not ours to look at
            continue
        if wanted.intersection(links):
            found.append(int(entry.name))
    return sorted(found)
