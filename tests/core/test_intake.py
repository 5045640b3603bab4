"""The intake engine takes the SQLite write lock as soon as it is free, and retries safely."""

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from conveyor.core.intake import make_intake_engine, run_first
from conveyor.core.migrate import upgrade


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'conveyor.db'}"
    upgrade(url)
    return url


def test_no_intake_engine_on_postgresql() -> None:
    assert make_intake_engine("postgresql+psycopg://nobody@127.0.0.1/none") is None


def test_the_intake_writes_right_after_another_writer_lets_go(url: str) -> None:
    engine = make_intake_engine(url)
    assert engine is not None
    holder = sqlite3.connect(url.split("///", 1)[1], isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # the worker, say, in the middle of a transaction
    released = threading.Event()

    def release() -> None:
        time.sleep(0.5)
        holder.execute("COMMIT")
        released.set()

    threading.Thread(target=release).start()
    attempts = []

    def write(session) -> int:
        attempts.append(1)
        session.execute(text("CREATE TABLE IF NOT EXISTS probe (n INTEGER)"))
        session.execute(text("INSERT INTO probe VALUES (1)"))
        return len(attempts)

    started = time.monotonic()
    assert run_first(engine, write) == 1  # the lock is taken up front: no work before it
    waited = time.monotonic() - started
    assert released.is_set() and 0.45 < waited < 0.6, waited
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM probe")).scalar() == 1
    holder.close()
    engine.dispose()


def test_other_errors_are_not_retried(url: str) -> None:
    engine = make_intake_engine(url)
    assert engine is not None
    calls = []

    def fail(session) -> None:
        calls.append(1)
        raise IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))

    with pytest.raises(IntegrityError):
        run_first(engine, fail)
    assert calls == [1]
    engine.dispose()
