"""SQLite writers of one process queue on one in-process lock, released however they end."""

import contextlib
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from conveyor.core import db
from conveyor.core.db import make_engine, session_scope


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
