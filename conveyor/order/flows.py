"""Order flows: record in the database first, then start, signal or update the workflow.

These are the only places where a request talks to Temporal about an order. Each flow commits
its database work before it touches the workflow, so nothing a caller was told is lost.
"""

import asyncio
import logging
from datetime import timedelta
from decimal import Decimal

from sqlmodel import col, select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from conveyor.core.db import session_scope
from conveyor.core.models import utcnow
from conveyor.core.search_attributes import ORDER_CHANNEL, ORDER_NUMBER
from conveyor.core.state import AppState
from conveyor.core.temporal import order_workflow_id
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import Product
from conveyor.invoice import service as invoice_service
from conveyor.order import service as order_service
from conveyor.order.models import OrderCreate, SalesOrder
from workflows.sales_order import NOT_WAITING_FOR_TASK, SalesOrderWorkflow
from workflows.types import (
    AmendRequest,
    CancelRequest,
    CancelResult,
    CompleteTaskRequest,
    SalesOrderInput,
)

log = logging.getLogger(__name__)
UPDATE_TIMEOUT_SECONDS = 30
TASK_NOT_YET_AWAITED_SECONDS = 5.0


class WorkflowRefusedError(Exception):
    """The order's workflow refused the request (wrong state); the message says why."""


async def place_order(state: AppState, *, order_in: OrderCreate, created_by: str) -> SalesOrder:
    """Record the order, then start its workflow (a sweep retries if Temporal is down)."""

    def record() -> SalesOrder:
        with session_scope(state.engine) as session:
            return order_service.create(
                session=session,
                order_in=order_in,
                created_by=created_by,
                number_prefix=state.settings.order_number_prefix,
            )

    order = await asyncio.to_thread(record)
    try:
        await start_workflow(state, order)
    except Exception:  # noqa: BLE001 - the order is safe; the sweep starts its workflow later
        log.exception("could not start the workflow of %s now; the sweep will", order.number)
    return order


async def start_workflow(state: AppState, order: SalesOrder) -> None:
    """Start the order's workflow once (a second start is a no-op) and mark it started."""
    assert order.number
    client = await state.temporal()
    try:
        await client.start_workflow(
            SalesOrderWorkflow.run,
            SalesOrderInput(
                order_number=order.number,
                backorder_recheck_seconds=state.settings.backorder_recheck_seconds,
                activity_timeout_seconds=state.settings.activity_timeout_seconds,
                quote_validity_seconds=state.settings.quote_validity_seconds,
                quote_reminder_before_seconds=state.settings.quote_reminder_before_seconds,
                dunning_schedule_seconds=state.settings.dunning_schedule_seconds,
            ),
            id=order_workflow_id(order.number),
            task_queue=state.settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(ORDER_NUMBER, order.number),
                    SearchAttributePair(ORDER_CHANNEL, order.channel),
                ]
            ),
        )
    except WorkflowAlreadyStartedError:
        pass

    def mark() -> None:
        with session_scope(state.engine) as session:
            row = session.get(SalesOrder, order.id)
            if row and not row.workflow_started:
                row.workflow_started = True
                session.add(row)

    await asyncio.to_thread(mark)


async def start_pending_workflows(state: AppState, *, older_than_seconds: float = 5.0) -> int:
    """Start workflows of recorded orders whose start did not happen (Temporal was down)."""

    def pending() -> list[SalesOrder]:
        cutoff = utcnow() - timedelta(seconds=older_than_seconds)
        with session_scope(state.engine) as session:
            return list(
                session.exec(
                    select(SalesOrder)
                    .where(col(SalesOrder.workflow_started).is_(False))
                    .where(SalesOrder.created_at < cutoff)
                    .limit(500)
                )
            )

    orders = await asyncio.to_thread(pending)
    for order in orders:
        await start_workflow(state, order)
    return len(orders)


async def receive_stock(
    state: AppState,
    *,
    key: str,
    sku: str,
    qty: int,
    warehouse: str | None = None,
    location: str | None = None,
) -> tuple[Product, list[str]]:
    """Record a goods receipt, then wake the backordered orders that wait for the SKU."""

    def record() -> tuple[Product, list[str]]:
        with session_scope(state.engine) as session:
            product = inventory_service.receive(
                session=session, key=key, sku=sku, qty=qty, warehouse=warehouse, location=location
            )
            waiting = order_service.backordered_with_sku(session=session, sku=sku)
            return product, [o.number for o in waiting if o.number]

    product, waiting = await asyncio.to_thread(record)
    await _signal_all(state, waiting, SalesOrderWorkflow.stock_arrived)
    return product, waiting


async def record_payment(
    state: AppState,
    *,
    key: str,
    order_number: str,
    amount: Decimal,
    method: str,
    reference: str | None,
) -> None:
    """Record a payment, then tell the order's workflow."""

    def record() -> None:
        with session_scope(state.engine) as session:
            order = order_service.get_by_number(session=session, number=order_number)
            assert order is not None
            invoice_service.record_payment(
                session=session,
                key=key,
                order=order,
                amount=amount,
                method=method,
                reference=reference,
            )

    await asyncio.to_thread(record)
    await _signal_all(state, [order_number], SalesOrderWorkflow.payment_recorded)


async def complete_task(
    state: AppState, *, order_number: str, request: CompleteTaskRequest
) -> None:
    """Hand a task's outcome to the waiting workflow (it records it and resumes).

    The task row commits in an activity a moment before the workflow starts waiting for it; a
    person quick enough to answer in between is retried for a few seconds, not refused.
    """
    client = await state.temporal()
    handle = client.get_workflow_handle(order_workflow_id(order_number))
    deadline = asyncio.get_running_loop().time() + TASK_NOT_YET_AWAITED_SECONDS
    while True:
        try:
            await _update(handle.execute_update(SalesOrderWorkflow.complete_task, request))
            return
        except WorkflowRefusedError as exc:
            waiting_soon = NOT_WAITING_FOR_TASK in str(exc)
            if not waiting_soon or asyncio.get_running_loop().time() >= deadline:
                raise
            await asyncio.sleep(0.2)


async def amend_order(state: AppState, *, order_number: str, request: AmendRequest) -> None:
    """Replace the lines through the workflow, which refuses once allocation started."""
    client = await state.temporal()
    handle = client.get_workflow_handle(order_workflow_id(order_number))
    await _update(handle.execute_update(SalesOrderWorkflow.amend, request))


async def cancel_order(
    state: AppState, *, order_number: str, request: CancelRequest
) -> CancelResult:
    """Cancel through the workflow, which runs the compensation before answering."""
    client = await state.temporal()
    handle = client.get_workflow_handle(order_workflow_id(order_number))
    return await _update(handle.execute_update(SalesOrderWorkflow.cancel, request))


async def _update(call):  # noqa: ANN001, ANN202
    try:
        return await asyncio.wait_for(call, timeout=UPDATE_TIMEOUT_SECONDS)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        raise WorkflowRefusedError(getattr(cause, "message", None) or str(cause)) from exc
    except RPCError as exc:
        raise WorkflowRefusedError(exc.message) from exc


async def _signal_all(state: AppState, numbers: list[str], signal) -> None:  # noqa: ANN001
    if not numbers:
        return
    client = await state.temporal()
    for number in numbers:
        try:
            await client.get_workflow_handle(order_workflow_id(number)).signal(signal)
        except RPCError:
            # The workflow rechecks on a timer, so a missed signal only delays it.
            log.warning("could not signal %s for %s", signal.__name__, number)
