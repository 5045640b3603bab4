"""The one Temporal client factory for the worker, the API and the tools."""

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from core.settings import Settings


async def connect(settings: Settings) -> Client:
    """Connect to Temporal with Conveyor's namespace and data converter (Decimal-safe)."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )


def order_workflow_id(order_number: str) -> str:
    """The workflow id of an order: `order-<number>`."""
    return f"order-{order_number}"
