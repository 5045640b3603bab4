"""The one Temporal client factory for the worker, the API and the tools."""

import asyncio
import time

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from conveyor.core.settings import Settings

CONNECT_RETRY_SECONDS = 0.5


async def connect(settings: Settings, *, wait_seconds: float = 30.0) -> Client:
    """Connect to Temporal with Conveyor's namespace and data converter (Decimal-safe).

    A server that is still starting ("Frontend is not healthy yet") is retried for up to
    `wait_seconds`; after that the last error is raised.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return await Client.connect(
                settings.temporal_address,
                namespace=settings.temporal_namespace,
                data_converter=pydantic_data_converter,
            )
        except RuntimeError:
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(CONNECT_RETRY_SECONDS)


def order_workflow_id(order_number: str) -> str:
    """The workflow id of an order: `order-<number>`."""
    return f"order-{order_number}"
