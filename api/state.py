"""What the app keeps for its lifetime: settings, database engine, a lazily connected client."""

import asyncio
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from temporalio.client import Client

from conveyor.core.settings import Settings
from conveyor.core.temporal import connect
from routing_rules.registry import RuleRegistry


@dataclass
class AppState:
    """Per-app resources, so tests can run apps on different databases side by side."""

    settings: Settings
    engine: Engine
    read_engine: Engine
    rules: RuleRegistry
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
