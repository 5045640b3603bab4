"""What a process keeps for its lifetime: settings, engines, rules, a lazily connected client."""

import asyncio
import contextlib
import contextvars
import functools
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import Client

from conveyor.core.db import session_scope
from conveyor.core.intake import run_first
from conveyor.core.settings import Settings
from conveyor.core.temporal import connect

if TYPE_CHECKING:  # core imports nothing of ours at run time; the registry is handed in
    from routing_rules.registry import RuleRegistry

T = TypeVar("T")
# The intake's own threads (one pool per process), so a new order never waits for a thread
# behind slower database calls (reports, pages, health checks waiting for the SQLite lock).
INTAKE_THREADS = ThreadPoolExecutor(8, thread_name_prefix="intake")


@dataclass
class AppState:
    """Per-app resources, so tests can run apps on different databases side by side."""

    settings: Settings
    engine: Engine
    read_engine: Engine
    rules: "RuleRegistry"
    # Where new orders are written: on SQLite an engine that takes the write lock first
    # (conveyor/core/intake.py); None: the ordinary engine.
    intake_engine: Engine | None = None
    _client: Client | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # The background task that starts the workflows of orders this process recorded (their ids
    # in `to_start`), and what wakes it. The task and the event belong to the event loop that
    # created them (tests run several apps, one after another, on one loop).
    starter: "asyncio.Task[None] | None" = None
    starter_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    to_start: set[int] = field(default_factory=set)

    async def temporal(self) -> Client:
        """The Temporal client, connected on first use (the API starts even if Temporal is down)."""
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    # Fail fast: a request must not hang while Temporal is down.
                    self._client = await connect(self.settings, wait_seconds=0)
        return self._client

    def wake_starter(self, run: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
        """Wake the background starter; if none runs on this loop, `run(wakeup)` becomes it.

        Called right after a commit, so it never waits: the starter runs once the caller yields.
        """
        loop = asyncio.get_running_loop()
        task = self.starter
        if task is None or task.done() or task.get_loop() is not loop:
            self.starter_wakeup = asyncio.Event()
            self.starter = loop.create_task(run(self.starter_wakeup), name="workflow-starter")
        self.starter_wakeup.set()

    async def stop_starter(self) -> None:
        """Cancel the background starter (what it had not started, the next one starts)."""
        task, self.starter = self.starter, None
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def in_session(
    state: AppState, work: Callable[[Session], T], *, read_only: bool = False
) -> T:
    """Run `work` in its own short transaction on a worker thread.

    Async handlers use this instead of a request session: a blocking database call on the event
    loop, or a lock held across an await, would stall every other request (SQLite locks the file).
    """

    def run() -> T:
        with session_scope(state.read_engine if read_only else state.engine) as session:
            return work(session)

    return await asyncio.to_thread(run)


async def in_intake_session(state: AppState, work: Callable[[Session], T]) -> T:
    """`in_session` for taking a new order in: its write goes before background writes."""
    engine = state.intake_engine

    def run() -> T:
        if engine is None:
            with session_scope(state.engine) as session:
                return work(session)
        return run_first(engine, work)

    # Like asyncio.to_thread, on the intake's own threads.
    call = functools.partial(contextvars.copy_context().run, run)
    return await asyncio.get_running_loop().run_in_executor(INTAKE_THREADS, call)
