"""Helpers shared by the activity classes."""

import asyncio
import contextlib

from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from conveyor.order import service as order_service
from conveyor.order.models import SalesOrder


def load_order(session: Session, number: str) -> SalesOrder:
    """The order, or a non-retryable error: retrying cannot make a missing order appear."""
    order = order_service.get_by_number(session=session, number=number)
    if order is None:
        raise ApplicationError(
            f"order {number} not found", type="OrderNotFound", non_retryable=True
        )
    return order


def number_of(order: SalesOrder) -> str:
    """A stored order's number (every order is numbered when it is recorded)."""
    if order.number is None:
        raise ValueError(f"order {order.id} has no number yet: it was never recorded")
    return order.number


async def sleep_unless_shutdown(seconds: float) -> None:
    """Sleep `seconds` inside an async activity, waking early when the worker begins shutting
    down (a long-running activity then ends its loop instead of holding up the shutdown)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await activity.wait_for_worker_shutdown()
