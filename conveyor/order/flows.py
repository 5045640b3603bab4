"""Order flows: record in the database first, then start, signal or update the workflow.

These are the only places where a request talks to Temporal about an order. Each flow commits
its database work before it touches the workflow, so nothing a caller was told is lost. A new
order is answered once committed; its workflow is started by the process's starter right after
(or by the sweep), and any signal or update before that starts it first (`workflow_handle`).
"""

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlmodel import Session, col, select, update
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from conveyor.audit.service import Actor
from conveyor.core.db import session_scope
from conveyor.core.errors import Conflict, Invalid
from conveyor.core.idempotency import scoped_key
from conveyor.core.models import utcnow
from conveyor.core.search_attributes import ORDER_CHANNEL, ORDER_NUMBER
from conveyor.core.state import AppState, in_intake_session, in_session
from conveyor.core.temporal import order_workflow_id
from conveyor.customer.models import Customer
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import Product
from conveyor.invoice import service as invoice_service
from conveyor.order import quotes
from conveyor.order import read as order_read
from conveyor.order import service as order_service
from conveyor.order import services as order_services
from conveyor.order.enums import OrderStatus
from conveyor.order.models import OrderCreate, QuoteRevision, SalesOrder
from conveyor.order.policy import Refusal
from conveyor.task import service as task_service
from conveyor.terms import service as terms_service
from workflows.types import (
    AmendLine,
    AmendRequest,
    AmendResult,
    CancelRequest,
    CancelResult,
    CompleteTaskRequest,
    CompleteTaskResult,
    QuoteVoided,
    SalesOrderInput,
    SalesOrderNames,
)

log = logging.getLogger(__name__)
R = TypeVar("R")
UPDATE_TIMEOUT_SECONDS = 30
TASK_NOT_YET_AWAITED_SECONDS = 5.0
# The starter: orders per batch, workflow starts in flight at once, pause after a failed batch.
PENDING_BATCH = 100
STARTER_CONCURRENCY = 8
STARTER_BACKOFF_SECONDS = 1.0
# How long a revision waits for the old quote's workflow to void it.
QUOTE_SETTLE_SECONDS = 20.0


class WorkflowRefusedError(Conflict):
    """The order's workflow refused the request (wrong state); the message says why.

    `refusal` is the validator's `Refusal` type to match on; None when Temporal itself refused
    (the workflow is gone or finished).
    """

    def __init__(self, message: str, refusal: str | None = None) -> None:
        super().__init__(message)
        self.refusal = refusal


async def place_order(
    state: AppState,
    *,
    order_in: OrderCreate,
    created_by: str,
    actor: Actor,
    request_key: str | None = None,
) -> SalesOrder:
    """Record the order and return it; its workflow is started off the request path.

    A repeated `request_key` (a scoped idempotency key) returns the order it placed before.
    """

    def record(session: Session) -> SalesOrder:
        try:
            return order_service.create(
                session=session,
                order_in=order_in,
                created_by=created_by,
                actor=actor,
                number_prefix=state.settings.order_number_prefix,
                request_key=request_key,
                quote_validity_seconds=state.settings.quote_validity_seconds,
            )
        except order_service.DuplicateRequestError as repeated:
            return repeated.order

    order = await in_intake_session(state, record)  # before the background writes (SQLite)
    request_start(state, order)
    return order


async def revise_quote(
    state: AppState, *, number: str, revision: QuoteRevision, created_by: str, actor: Actor
) -> SalesOrder:
    """Record a new version of an open quote, void the old one's workflow, start the new one.

    The void is a signal the old workflow takes only while it is still a quote, so a customer
    who accepted it a moment before keeps their order: then the new version is cancelled and
    Conflict says why. NotFound, Conflict (not an open quote), OrderError as placing refuses.
    """

    def record(session: Session) -> SalesOrder:
        return quotes.revise(
            session=session,
            number=number,
            revision=revision,
            created_by=created_by,
            actor=actor,
            number_prefix=state.settings.order_number_prefix,
            quote_validity_seconds=state.settings.quote_validity_seconds,
        )[1]

    new = await in_intake_session(state, record)
    handle = await workflow_handle(state, number)
    await handle.signal(SalesOrderNames.QUOTE_VOIDED, QuoteVoided(new.number or ""))
    request_start(state, new)
    status = await _settled_status(state, number)
    if status not in (OrderStatus.QUOTE, OrderStatus.CANCELLED):
        await in_session(state, lambda s: quotes.withdraw_revision(s, number=number, actor=actor))
        await cancel(
            state, number=new.number or "", reason=f"{number} was accepted", actor=created_by
        )
        raise Conflict(f"quote {number} was accepted meanwhile; the new version is cancelled")
    return new


async def _settled_status(state: AppState, number: str) -> str:
    """The order's status once it is no longer a quote (or after QUOTE_SETTLE_SECONDS)."""
    deadline = asyncio.get_running_loop().time() + QUOTE_SETTLE_SECONDS
    while True:
        order = await in_session(state, lambda s: order_read.load(s, number), read_only=True)
        if order.status != OrderStatus.QUOTE or asyncio.get_running_loop().time() > deadline:
            return order.status
        await asyncio.sleep(0.2)


def request_start(state: AppState, order: SalesOrder) -> None:
    """Have this process's starter start the committed order's workflow, off the request path.

    The committed row (`workflow_started` false) is the durable "to start" marker: the starter
    (an asyncio task of this process, woken here) starts it at once; whatever it misses (Temporal
    down, the process killed between commit and start) the sweep of a running API starts later.
    Never twice: the workflow id is `order-<number>` and a second start is refused.
    """
    assert order.id is not None
    state.to_start.add(order.id)
    state.wake_starter(lambda wakeup: _run_starter(state, wakeup))


async def _run_starter(state: AppState, wakeup: asyncio.Event) -> None:
    while True:
        await wakeup.wait()
        wakeup.clear()
        while state.to_start:  # orders recorded meanwhile go in the next batch, oldest first
            ids = sorted(state.to_start)[:PENDING_BATCH]
            state.to_start.difference_update(ids)
            try:
                await _start_orders(state, ids)
            except Exception:  # they stay pending in the database: the sweep starts them
                log.warning("could not start %d order workflows now", len(ids), exc_info=True)
                await asyncio.sleep(STARTER_BACKOFF_SECONDS)


async def _start_orders(state: AppState, ids: list[int]) -> None:
    def pending() -> list[SalesOrder]:
        query = (
            select(SalesOrder)
            .where(col(SalesOrder.id).in_(ids))
            .where(col(SalesOrder.workflow_started).is_(False))
        )
        with session_scope(state.read_engine) as session:
            return list(session.exec(query.order_by(col(SalesOrder.id))))

    await _start_all(state, await asyncio.to_thread(pending))


async def start_workflow(state: AppState, order: SalesOrder) -> None:
    """Start the order's workflow once (a second start is a no-op) and mark it started."""
    await _start(state, await state.temporal(), order)
    await _mark_started(state, [order.id or 0])


async def ensure_started(state: AppState, number: str) -> None:
    """Start the order's workflow now if its start is still pending (idempotent)."""
    order = await in_session(
        state,
        lambda session: order_service.get_by_number(session=session, number=number),
        read_only=True,
    )
    if order is not None and not order.workflow_started:
        await start_workflow(state, order)


async def workflow_handle(state: AppState, number: str) -> WorkflowHandle[Any, Any]:
    """The handle of the order's workflow, which is started first if the starter has not yet.

    Every flow that signals or updates an order goes through here, so a person (or a store)
    quicker than the starter still finds a running workflow.
    """
    await ensure_started(state, number)
    client = await state.temporal()
    return client.get_workflow_handle(order_workflow_id(number))


def dunning_schedule(session: Session, order: SalesOrder, schedule: Sequence[float]) -> list[float]:
    """The reminders' times after the invoice, counted from its due date: the schedule shifted
    by the net days of the customer's payment terms (the workflow counts from the invoice)."""
    customer = session.get(Customer, order.customer_id)
    net_days = terms_service.for_customer(session=session, customer=customer).net_days
    return [net_days * 86400.0 + seconds for seconds in schedule]


async def _start(state: AppState, client: Client, order: SalesOrder) -> None:
    assert order.number
    schedule = await in_session(
        state,
        lambda s: dunning_schedule(s, order, state.settings.dunning_schedule_seconds),
        read_only=True,
    )
    try:
        await client.start_workflow(
            SalesOrderNames.WORKFLOW,
            SalesOrderInput(
                order_number=order.number,
                backorder_recheck_seconds=state.settings.backorder_recheck_seconds,
                activity_timeout_seconds=state.settings.activity_timeout_seconds,
                quote_validity_seconds=quotes.validity_seconds(
                    order, utcnow(), state.settings.quote_validity_seconds
                ),
                quote_reminder_before_seconds=state.settings.quote_reminder_before_seconds,
                dunning_schedule_seconds=schedule,
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
        pass  # started before (by another process, or before a crash): the same workflow


async def _mark_started(state: AppState, ids: list[int]) -> None:
    def mark() -> None:
        with session_scope(state.engine) as session:
            session.exec(
                update(SalesOrder)
                .where(col(SalesOrder.id).in_(ids))
                .where(col(SalesOrder.workflow_started).is_(False))
                .values(workflow_started=True)
            )

    if ids:
        await asyncio.to_thread(mark)


async def start_pending_workflows(state: AppState, *, older_than_seconds: float = 5.0) -> int:
    """Start the workflows of recorded orders not started yet, oldest first; how many started.

    The sweep: what the starters missed (`older_than_seconds` leaves their work in flight alone).
    """

    def pending() -> list[SalesOrder]:
        query = select(SalesOrder).where(col(SalesOrder.workflow_started).is_(False))
        if older_than_seconds > 0:
            cutoff = utcnow() - timedelta(seconds=older_than_seconds)
            query = query.where(SalesOrder.created_at < cutoff)
        with session_scope(state.read_engine) as session:
            return list(session.exec(query.order_by(col(SalesOrder.id)).limit(PENDING_BATCH)))

    started = 0
    while True:  # in batches, so a long backlog (after a crash) is not held in memory at once
        orders = await asyncio.to_thread(pending)
        await _start_all(state, orders)
        started += len(orders)
        if len(orders) < PENDING_BATCH:
            return started


async def _start_all(state: AppState, orders: list[SalesOrder]) -> None:
    """Up to STARTER_CONCURRENCY starts in flight; mark those that went through, then raise the
    first failure."""
    if not orders:
        return
    client = await state.temporal()
    gate = asyncio.Semaphore(STARTER_CONCURRENCY)

    async def start(order: SalesOrder) -> None:
        async with gate:
            await _start(state, client, order)

    results = await asyncio.gather(*(start(o) for o in orders), return_exceptions=True)
    started = [o.id or 0 for o, r in zip(orders, results, strict=True) if r is None]
    await _mark_started(state, started)
    failure = next((r for r in results if isinstance(r, BaseException)), None)
    if failure is not None:
        raise failure


async def receive_stock(
    state: AppState,
    *,
    key: str,
    sku: str,
    qty: int,
    warehouse: str | None = None,
    location: str | None = None,
    note: str | None = None,
    unit_cost: Decimal | None = None,
    actor: Actor,
) -> tuple[Product, list[str]]:
    """Record a goods receipt, then wake the backordered orders that wait for the SKU."""

    def record() -> tuple[Product, list[str]]:
        with session_scope(state.engine) as session:
            product = inventory_service.receive(
                session=session,
                key=key,
                sku=sku,
                qty=qty,
                warehouse=warehouse,
                location=location,
                note=note,
                unit_cost=unit_cost,
                default_warehouse=state.settings.default_warehouse,
                actor=actor,
            )
            return product, waiting_for(session, [sku])

    product, waiting = await asyncio.to_thread(record)
    await wake_backordered(state, waiting)
    return product, waiting


def waiting_for(session: Session, skus: list[str]) -> list[str]:
    """The numbers of the backordered orders that wait for any of `skus` (read after a
    receipt, in its transaction)."""
    numbers: dict[str, None] = {}
    for sku in skus:
        for order in order_service.backordered_with_sku(session=session, sku=sku):
            if order.number:
                numbers[order.number] = None
    return list(numbers)


async def wake_backordered(state: AppState, numbers: list[str]) -> None:
    """Tell backordered orders that stock arrived (after the receipt's commit): each checks
    its shortages again and takes what it can."""
    await _signal_all(state, numbers, SalesOrderNames.STOCK_ARRIVED)


async def record_payment(
    state: AppState,
    *,
    order_number: str,
    amount: Decimal,
    method: str,
    reference: str | None,
    idempotency_key: str | None = None,
    actor: Actor,
    customer_credit: bool = False,
) -> None:
    """Record a payment (once per idempotency key), then tell the order's workflow.

    NotFound for an unknown order, Conflict for a cancelled one, and for one that owes nothing
    (completed or fully paid) unless the money is kept as the customer's credit
    (`customer_credit`): then the finished order's workflow is not told.
    """
    # Scoped to the order: the same key sent for another order is another payment.
    key = scoped_key("payment", order_number, idempotency_key)

    def record(session: Session) -> bool:
        order = order_read.load(session, order_number)
        if order.status == OrderStatus.CANCELLED:
            raise Conflict(f"order {order_number} is cancelled")
        if invoice_service.find_payment(session=session, key=key) is not None:
            # A repeated request: recorded already; tell the workflow again (the first
            # attempt may have stopped before it did).
            return order.status != OrderStatus.COMPLETED
        due = invoice_service.still_due(session=session, order=order)
        owes_nothing = order.status == OrderStatus.COMPLETED or due <= 0
        if owes_nothing and not customer_credit:
            raise Conflict(
                f"order {order_number} owes nothing (balance {max(due, Decimal(0))} "
                f"{order.currency}): record the money as customer credit, or on the order "
                "it is for"
            )
        invoice_service.record_payment(
            session=session,
            key=key,
            order=order,
            amount=amount,
            method=method,
            reference=reference,
            actor=actor,
            customer_credit=owes_nothing,
        )
        return order.status != OrderStatus.COMPLETED

    if await in_session(state, record):
        await _signal_all(state, [order_number], SalesOrderNames.PAYMENT_RECORDED)


async def complete_task(
    state: AppState,
    *,
    order_number: str,
    task_id: int,
    outcome: str = "done",
    note: str | None = None,
    actor: str,
) -> None:
    """Hand a task's outcome to the waiting workflow (it records it and resumes).

    The task row commits in an activity a moment before the workflow starts waiting for it; a
    person quick enough to answer in between is retried for a few seconds, not refused. The
    seconds count from the first refusal, not from the request: a worker restarting in between
    delivers the update and the task's creation in one workflow task, the update checked first,
    however long the update waited for the worker.
    """
    request = CompleteTaskRequest(task_id=task_id, outcome=outcome, note=note, actor=actor)
    loop = asyncio.get_running_loop()
    deadline: float | None = None
    while True:
        try:
            await _update(
                state, order_number, SalesOrderNames.COMPLETE_TASK, request, CompleteTaskResult
            )
            return
        except WorkflowRefusedError as exc:
            if exc.refusal != Refusal.NOT_WAITING_FOR_TASK:
                raise
            deadline = deadline or loop.time() + TASK_NOT_YET_AWAITED_SECONDS
            if loop.time() >= deadline:
                raise
            await asyncio.sleep(0.2)


async def amend(
    state: AppState, *, number: str, lines: Sequence[tuple[str, int]], actor: str
) -> None:
    """Replace the order's lines (SKU, quantity) before allocation; the workflow re-prices them.

    NotFound, Invalid for an unknown SKU, Conflict when the order is finished or too far along.
    """

    def check(session: Session) -> SalesOrder:
        order = order_read.load(session, number)
        skus = [sku for sku, _ in lines]
        known = inventory_service.get_many(session=session, skus=skus)
        unknown = sorted(set(skus) - set(known))
        if unknown:
            raise Invalid(f"unknown SKU: {', '.join(unknown)}")
        retired = sorted(sku for sku, p in known.items() if p.retired_at is not None)
        if retired:
            raise Invalid(f"retired product cannot be ordered: {', '.join(retired)}")
        return order

    _refuse_if_finished(await in_session(state, check, read_only=True))
    await amend_order(state, order_number=number, lines=lines, actor=actor)


async def amend_order(
    state: AppState, *, order_number: str, lines: Sequence[tuple[str, int]], actor: str
) -> None:
    """Replace the lines through the workflow alone, which refuses once allocation started."""
    request = AmendRequest(lines=[AmendLine(sku=sku, qty=qty) for sku, qty in lines], actor=actor)
    await _update(state, order_number, SalesOrderNames.AMEND, request, AmendResult)


async def cancel(state: AppState, *, number: str, reason: str, actor: str) -> None:
    """Cancel through the workflow, which runs the compensation before answering.

    NotFound, Conflict when the order is finished or past packing.
    """
    order = await in_session(
        state, lambda session: order_read.load(session, number), read_only=True
    )
    _refuse_if_finished(order)
    request = CancelRequest(reason=reason, actor=actor)
    await _update(state, number, SalesOrderNames.CANCEL, request, CancelResult)


async def confirm_service(state: AppState, *, number: str, actor: Actor, note: str = "") -> None:
    """Confirm the order's service delivered: recorded and audited first, then the waiting
    workflow told (it invoices the service lines and goes on to collection).

    NotFound; Conflict for an order without service lines, one that is finished, or one whose
    service step is a task (completing that task is the confirmation).
    """

    def record(session: Session) -> None:
        order = order_read.load(session, number)
        task = task_service.open_for_step(session=session, order_id=order.id or 0, step="service")
        if task is not None:
            raise Conflict(f"the service is confirmed by completing task {task.id}")
        order_services.confirm(session=session, order=order, actor=actor, note=note)

    await in_session(state, record)
    await _signal_all(state, [number], SalesOrderNames.SERVICE_DELIVERED)


def _refuse_if_finished(order: SalesOrder) -> None:
    if order.status in (OrderStatus.CANCELLED, OrderStatus.COMPLETED):
        raise Conflict(f"order {order.number} is already {order.status}")


async def _update(
    state: AppState, order_number: str, update: str, request: Any, result_type: type[R]
) -> R:
    """Run an update of the order's workflow; its refusal becomes WorkflowRefusedError."""
    handle = await workflow_handle(state, order_number)
    try:
        return await asyncio.wait_for(
            handle.execute_update(update, request, result_type=result_type),
            timeout=UPDATE_TIMEOUT_SECONDS,
        )
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        refusal = cause.type if isinstance(cause, ApplicationError) else None
        message = getattr(cause, "message", None) or str(cause)
        raise WorkflowRefusedError(message, refusal) from exc
    except RPCError as exc:
        raise WorkflowRefusedError(exc.message) from exc


async def _signal_all(state: AppState, numbers: list[str], signal: str) -> None:
    for number in numbers:
        try:
            handle = await workflow_handle(state, number)
            await handle.signal(signal)
        except RPCError:
            # The workflow rechecks on a timer, so a missed signal only delays it.
            log.warning("could not signal %s for %s", signal, number)
