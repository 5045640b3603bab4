"""The one Temporal client factory for the worker, the API and the tools."""

import asyncio
import functools
import time
from typing import Any

from pydantic import TypeAdapter
from temporalio.client import Client
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter, PydanticPayloadConverter
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime

from conveyor.core.settings import Settings

CONNECT_RETRY_SECONDS = 0.5
# One cache of pydantic TypeAdapters for the process. The workflow sandbox makes a payload
# converter per workflow instance; with a cache of its own, every order would build the
# adapters of its state and activity results again (about a sixth of the worker's CPU).
_TYPE_ADAPTERS: "functools._lru_cache_wrapper[TypeAdapter[Any]]" = functools.lru_cache(
    maxsize=2048
)(TypeAdapter)


class SharedAdapterPayloadConverter(PydanticPayloadConverter):
    """temporalio's pydantic payload converter, its TypeAdapter cache shared process-wide."""

    def __init__(self) -> None:
        super().__init__()
        for converter in self.converters.values():
            if isinstance(converter, PydanticJSONPlainPayloadConverter):
                converter._type_adapter = _TYPE_ADAPTERS


data_converter = DataConverter(payload_converter_class=SharedAdapterPayloadConverter)


async def connect(
    settings: Settings, *, wait_seconds: float = 30.0, runtime: Runtime | None = None
) -> Client:
    """Connect to Temporal with Conveyor's namespace and data converter (Decimal-safe).

    A server that is still starting ("Frontend is not healthy yet") is retried for up to
    `wait_seconds`; after that the last error is raised. `runtime`: the worker's, exporting
    metrics (conveyor/metrics/gauges.py); None, the SDK's default.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return await Client.connect(
                settings.temporal_address,
                namespace=settings.temporal_namespace,
                data_converter=data_converter,
                runtime=runtime,
            )
        except RuntimeError:
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(CONNECT_RETRY_SECONDS)


def order_workflow_id(order_number: str) -> str:
    """The workflow id of an order: `order-<number>`."""
    return f"order-{order_number}"
