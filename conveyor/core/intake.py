"""Write priority for taking orders in: on SQLite, the intake takes the write lock first.

SQLite has one writer at a time, and a writer that finds the lock taken sleeps in its busy
handler for up to 100 ms between looks, so under load a waiter can lose the lock to others for
seconds. The worker's activities wait like that; the intake (a store webhook, a new order)
instead looks every millisecond, so it gets the lock as soon as it is free and its answer does
not queue behind the background processing. Its transactions take the lock up front (`BEGIN
IMMEDIATE`), one at a time per process, so only one of them looks and no work is done twice.
On PostgreSQL (row locks, no single writer) the intake uses the ordinary engine.
"""

import sqlite3
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, create_engine

from conveyor.core.db import BUSY_TIMEOUT_SECONDS, DatabaseBusy, session_scope

T = TypeVar("T")
POLL_SECONDS = 0.001
# One intake transaction at a time per process: SQLite runs one writer anyway, and the others
# wait here in line instead of all polling the lock.
_WRITER = threading.Lock()


def make_intake_engine(
    url: str, *, busy_timeout_seconds: float = BUSY_TIMEOUT_SECONDS
) -> Engine | None:
    """An engine whose transactions poll for the SQLite write lock; None on other databases.

    As core/db.py's engines, a transaction gives up after `busy_timeout_seconds` without the
    lock (DatabaseBusy), and so does any other statement kept waiting that long.
    """
    if not url.startswith("sqlite"):
        return None
    busy_timeout_ms = round(busy_timeout_seconds * 1000)
    engine = create_engine(url, connect_args={"check_same_thread": False}, pool_size=2)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # The pragmas of core/db.py's engines; transactions are begun by hand, below.
        dbapi_connection.isolation_level = None
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            dbapi_connection.execute(f"PRAGMA {pragma}")
        dbapi_connection.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        raw = connection.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        _take_write_lock(raw, busy_timeout_ms)

    return engine


def _take_write_lock(raw: sqlite3.Connection, busy_timeout_ms: int) -> None:
    raw.execute("PRAGMA busy_timeout=0")  # fail at once instead of SQLite's long sleeps
    try:
        deadline = time.monotonic() + busy_timeout_ms / 1000
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "database is locked" not in str(exc):
                    raise
                if time.monotonic() > deadline:
                    raise DatabaseBusy(
                        f"no SQLite write lock within {busy_timeout_ms / 1000:g} s"
                    ) from exc
            time.sleep(POLL_SECONDS)
    finally:
        raw.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")


def run_first(engine: Engine, work: Callable[[Session], T]) -> T:
    """`work` in its own transaction on an intake engine: the write lock first, then the work."""
    with _WRITER, session_scope(engine) as session:
        session.connection()  # BEGIN IMMEDIATE, as soon as the lock is free
        return work(session)
