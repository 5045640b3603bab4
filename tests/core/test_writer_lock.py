"""SQLite writers queue on one lock (a thread lock in the process, an flock between processes),
released however they end."""

import contextlib
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from conveyor.core import db
from conveyor.core.db import make_engine, session_scope

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'locks.db'}"
    with make_engine(url).begin() as connection:
        connection.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        connection.execute(text("INSERT INTO counter VALUES (0)"))
    return url


def _read(url: str) -> int:
    with make_engine(url, read_only=True).connect() as connection:
        return connection.execute(text("SELECT n FROM counter")).scalar_one()


def test_many_threads_of_read_then_write_lose_no_update(url: str) -> None:
    engine = make_engine(url)

    def bump() -> None:
        for _ in range(25):
            with session_scope(engine) as session:
                n = session.execute(text("SELECT n FROM counter")).scalar_one()
                session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert _read(url) == 200


def test_a_failed_transaction_lets_the_next_writer_in_at_once(url: str) -> None:
    engine = make_engine(url)
    with pytest.raises(ZeroDivisionError), session_scope(engine) as session:
        session.execute(text("UPDATE counter SET n = 5"))
        raise ZeroDivisionError
    started = time.monotonic()
    with session_scope(engine) as session:
        session.execute(text("UPDATE counter SET n = n + 1"))
    assert time.monotonic() - started < 1
    assert _read(url) == 1  # the failed one rolled back


def test_a_writer_in_another_thread_waits_for_the_commit(url: str) -> None:
    first, second = make_engine(url), make_engine(url)  # two engines, one file: one lock
    order: list[str] = []
    holding = threading.Event()

    def later() -> None:
        holding.wait()
        with session_scope(second) as session:
            session.execute(text("UPDATE counter SET n = n * 10"))
            order.append("second")

    thread = threading.Thread(target=later)
    thread.start()
    with session_scope(first) as session:
        session.execute(text("UPDATE counter SET n = 7"))
        holding.set()
        time.sleep(0.3)  # the other writer is queued meanwhile
        order.append("first")
    thread.join(timeout=30)
    assert order == ["first", "second"]
    assert _read(url) == 70


def test_readers_never_take_the_writer_lock(url: str) -> None:
    writer = make_engine(url)
    lock = db._writer_lock(str(Path(url.split("///", 1)[1])))
    with session_scope(writer) as session:
        session.execute(text("UPDATE counter SET n = 3"))
        assert lock.locked()
        assert _read(url) == 0  # a reader runs beside the open write (WAL), seeing the old row
    assert not lock.locked()


def test_an_invalidated_connection_gives_the_lock_back(url: str) -> None:
    engine = make_engine(url)
    lock = db._writer_lock(str(Path(url.split("///", 1)[1])))
    connection = engine.connect()
    transaction = connection.begin()
    connection.execute(text("UPDATE counter SET n = 9"))
    assert lock.locked()
    connection.invalidate()  # the database connection is dropped mid-transaction
    assert not lock.locked()  # released with it, before anyone rolls back
    with contextlib.suppress(SQLAlchemyError):  # the dropped transaction cannot roll back
        transaction.rollback()
    with contextlib.suppress(SQLAlchemyError):
        connection.close()
    with session_scope(engine) as session:  # the next writer is not kept waiting
        session.execute(text("UPDATE counter SET n = n + 1"))
    assert _read(url) == 1


HOLDER = """
import sys, time
from conveyor.core.db import _writer_lock
lock = _writer_lock(sys.argv[1])
assert lock.acquire(timeout=5)
print("held", flush=True)
time.sleep(600)
"""


def test_processes_take_turns_and_a_killed_holder_gives_the_lock_back(
    url: str, tmp_path: Path
) -> None:
    """Another process holding the writer lock (the API while a worker writes, say) keeps this
    one's writes waiting, up to the busy timeout; killed with SIGKILL, it holds nothing."""
    path = str(Path(url.split("///", 1)[1]))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, path], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        engine = make_engine(url, busy_timeout_seconds=0.5)
        started = time.monotonic()
        with pytest.raises(db.DatabaseBusy), session_scope(engine) as session:
            session.execute(text("UPDATE counter SET n = 1"))
        assert time.monotonic() - started >= 0.5
        assert not db._writer_lock(path).locked()  # the failed wait kept nothing
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        started = time.monotonic()
        with session_scope(engine) as session:
            session.execute(text("UPDATE counter SET n = 2"))
        assert time.monotonic() - started < 0.5
        assert _read(url) == 2
    finally:
        holder.kill()
        holder.wait(10)
