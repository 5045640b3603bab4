"""What a process keeps for its lifetime: settings, engines, rules, a lazily connected client."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import Client

from conveyor.core.db import session_scope
from conveyor.core.settings import Settings
from conveyor.core.temporal import connect

if TYPE_CHECKING:  # core imports nothing of ours at run time; the registry is handed in
    from routing_rules.registry import RuleRegistry

T = TypeVar("T")


@dataclass
class AppState:
    """Per-app resources, so tests can run apps on different databases side by side."""

    settings: Settings
    engine: Engine
    read_engine: Engine
    rules: "RuleRegistry"
    _client: Client | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def temporal(self) -> Client:
        """The Temporal client, connected on first use (the API starts even if Temporal is down)."""
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    # Fail fast: a request must not hang while Temporal is down.
                    self._client = await connect(self.settings, wait_seconds=0)
        return self._client


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
