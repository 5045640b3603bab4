"""Database engine construction and the session-per-unit-of-work helper."""

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, event, func
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session, create_engine, select
from sqlmodel.sql.expression import SelectOfScalar
from temporalio import activity

Row = TypeVar("Row")
LIKE_ESCAPE = "\\"
# How long a SQLite write waits for the lock unless told (settings.sqlite_busy_timeout_seconds).
BUSY_TIMEOUT_SECONDS = 60.0
# What a caller refused for a database outage is told to wait before trying again (Retry-After).
RETRY_AFTER_SECONDS = 5
DATABASE_BUSY = "the database is busy (another writer holds it); try again in a moment"
DATABASE_UNREACHABLE = "the database cannot be reached right now; try again in a moment"


class DatabaseBusy(TimeoutError):
    """No SQLite write lock within the busy timeout (another writer held it all along)."""


def make_engine(
    url: str, *, read_only: bool = False, busy_timeout_seconds: float = BUSY_TIMEOUT_SECONDS
) -> Engine:
    """Build an engine; SQLite gets WAL, a busy timeout and write-locking transactions.

    A `read_only` SQLite engine starts plain (deferred) transactions, so readers run beside the
    single writer as WAL allows, and refuses writes. On PostgreSQL both kinds are the same.
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_seconds},
            pool_size=20,
            max_overflow=60,
            pool_timeout=120,
        )
        _configure_sqlite(engine, read_only=read_only, busy_timeout_seconds=busy_timeout_seconds)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=20, pool_timeout=120)


def read_side(engine: Engine) -> Engine:
    """The engine for a PostgreSQL process's reads: the same pool, in autocommit.

    A read has nothing to commit: without a transaction it saves the BEGIN and COMMIT round
    trips (a read request is a token lookup and a query or two). What stops a write is the
    SQLite read engine (`query_only`), which the same code runs on in the tests.
    """
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def _configure_sqlite(engine: Engine, *, read_only: bool, busy_timeout_seconds: float) -> None:
    # pysqlite opens transactions lazily and as DEFERRED; two writers that both read first then
    # deadlock on the lock upgrade and one fails with "database is locked" without waiting.
    # BEGIN IMMEDIATE takes the write lock up front, so the busy timeout queues writers instead.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={round(busy_timeout_seconds * 1000)}")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    if read_only:
        return

    # SQLite's busy handler polls with sleeps of up to 100 ms, so writers that queue on the
    # database's own lock leave it idle between them; queued on a lock of our own instead (a
    # thread lock within the process, an flock beside the file between processes: the API and
    # the workers), the next writer begins about when the last one commits. Anything else
    # still meets SQLite's lock and the busy timeout. Released from whichever thread ends the
    # transaction. Waiting here counts as waiting for the lock: a write gives up after the busy
    # timeout.
    writer = _writer_lock(engine.url.database or "")

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        if not writer.acquire(timeout=busy_timeout_seconds):
            raise DatabaseBusy(f"no SQLite write lock within {busy_timeout_seconds:g} s")
        connection.info[_HOLDS_WRITER] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release_writer(connection)
            raise

    def _release_writer(connection):
        if connection.info.pop(_HOLDS_WRITER, False):
            writer.release()

    event.listen(engine, "commit", _release_writer)
    event.listen(engine, "rollback", _release_writer)

    # A connection that goes back to the pool, or is thrown away, without a commit or rollback
    # of ours (an error mid-transaction, an invalidated connection) must not keep the lock.
    def _release_from_pool(_dbapi_connection, record, _detail=None):
        if record is not None and record.info.pop(_HOLDS_WRITER, False):
            writer.release()

    for pool_event in ("reset", "invalidate", "soft_invalidate", "close"):
        event.listen(engine.pool, pool_event, _release_from_pool)


_HOLDS_WRITER = "conveyor_holds_writer"
_WRITER_LOCKS: dict[str, "WriterLock"] = {}
_WRITER_LOCKS_GUARD = threading.Lock()
# How often a process that waits for another process's write polls the flock.
_FLOCK_POLL_SECONDS = 0.001


class WriterLock:
    """Who may write a SQLite file next: one thread of this process (a thread lock), and of
    the processes one at a time (`flock` on `<database>-writer`, dropped by the kernel when a
    process dies, kill -9 included). Only the thread holding the thread lock polls the flock."""

    def __init__(self, path: str | None) -> None:
        self._thread = threading.Lock()
        self._fd: int | None = None
        if path is not None:
            self._fd = os.open(f"{path}-writer", os.O_RDWR | os.O_CREAT, 0o600)

    def acquire(self, timeout: float) -> bool:
        """Take the lock within `timeout` seconds; False when another writer kept it."""
        deadline = time.monotonic() + timeout
        if not self._thread.acquire(timeout=timeout):
            return False
        if self._fd is None:
            return True
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self._thread.release()
                    return False
                time.sleep(_FLOCK_POLL_SECONDS)

    def locked(self) -> bool:
        """Whether a thread of this process holds it."""
        return self._thread.locked()

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread.release()


def _writer_lock(database: str) -> WriterLock:
    """The one write lock of a SQLite file in this process (shared by every engine on it)."""
    on_disk = bool(database) and database != ":memory:"
    key = str(Path(database).resolve()) if on_disk else database
    with _WRITER_LOCKS_GUARD:
        if key not in _WRITER_LOCKS:
            _WRITER_LOCKS[key] = WriterLock(key if on_disk else None)
        return _WRITER_LOCKS[key]


def outage(exc: BaseException) -> str | None:
    """What a database error tells the caller when it is an outage, not a bug: DATABASE_BUSY
    (SQLite locked past the busy timeout, no pooled connection free, a PostgreSQL lock or
    serialization conflict) or DATABASE_UNREACHABLE (a connection refused, cut or lost); None
    for any other error. Either way the transaction rolled back and a retry may succeed."""
    if isinstance(exc, DatabaseBusy | PoolTimeout):
        return DATABASE_BUSY
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    if not isinstance(exc, DBAPIError | sqlite3.OperationalError):
        return None
    sqlstate = str(getattr(original, "sqlstate", None) or "")  # psycopg's: 40xxx, 55P03
    if "database is locked" in str(original) or sqlstate.startswith("40") or sqlstate == "55P03":
        return DATABASE_BUSY
    if isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    ):
        return DATABASE_UNREACHABLE
    return None


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error.

    In a sync activity Temporal cancels by raising an exception in the thread at whatever line
    it is on; one raised inside the engine's own bookkeeping (the moment SQLite's writer lock
    is granted, say) could leave the lock held for good. Such an exception waits until the unit
    of work has committed or rolled back, then is raised.
    """
    with _uninterrupted(), Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def _uninterrupted() -> AbstractContextManager[None]:
    if activity.in_activity():
        return activity.shield_thread_cancel_exception()
    return nullcontext()


def page(
    session: Session,
    query: SelectOfScalar[Row],
    *order_by: Any,
    limit: int,
    offset: int,
) -> tuple[list[Row], int]:
    """One page of a filtered query in the given order, and how many rows match in all."""
    count = session.exec(select(func.count()).select_from(query.subquery())).one()
    if offset >= count:  # past the end: also keeps a huge `page` away from a 64-bit OFFSET
        return [], count
    rows = session.exec(query.order_by(*order_by).offset(offset).limit(limit)).all()
    return list(rows), count


def contains_text(column: Any, text: str) -> ColumnElement[bool]:
    """`column` contains `text`, case-insensitive; `%` and `_` in `text` match only themselves."""
    escaped = (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )
    return column.ilike(f"%{escaped}%", escape=LIKE_ESCAPE)
