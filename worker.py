"""The Conveyor worker: registers the workflows and activities on the task queue and runs them."""

import asyncio
import itertools
import logging
import signal
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta

from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.plugin import SimplePlugin
from temporalio.service import RPCError
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.notification_activities import NotificationActivities
from activities.order_activities import OrderActivities
from activities.order_steps import OrderStepActivities
from activities.outbound_activities import OutboundActivities
from activities.outbox_activities import OutboxActivities
from activities.purchasing_activities import PurchasingActivities
from activities.return_activities import ReturnActivities
from activities.stock_activities import StockActivities
from activities.task_activities import TaskActivities
from conveyor.core.db import make_engine
from conveyor.core.failures import BoundedFailures
from conveyor.core.logs import configure_logging
from conveyor.core.settings import Settings, settings
from conveyor.core.temporal import connect
from conveyor.metrics.gauges import gauges_plugin, metrics_runtime
from routing_rules.registry import RuleRegistry
from workflows.outbound_dispatcher import (
    OutboundDispatcherInput,
    OutboundDispatcherWorkflow,
    outbound_dispatcher_id,
)
from workflows.outbox_dispatcher import (
    OutboxDispatcherInput,
    OutboxDispatcherWorkflow,
    outbox_dispatcher_id,
)
from workflows.returns import ReturnWorkflow
from workflows.sales_order import SalesOrderWorkflow as SalesOrder
from workflows.v7.sales_order import SalesOrderWorkflow

# The sandbox imports a workflow's module afresh for every workflow it starts (most of an
# order's workflow CPU went to executing the class body again); ours keep no module state, so
# the live worker imports them once. The restrictions still hold where they prove something:
# the replay tests run every recorded history through the full sandbox.
RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("workflows")
)
# SalesOrder (v8) runs new orders; SalesOrderWorkflow (v7) stays until its orders drain.
WORKFLOWS = [
    SalesOrder,
    SalesOrderWorkflow,
    ReturnWorkflow,
    OutboxDispatcherWorkflow,
    OutboundDispatcherWorkflow,
]


def build_activities(engine: Engine, settings: Settings) -> list:
    """Every activity, bound to its clients (database engine, rule registry) and settings."""
    rules = RuleRegistry(settings.rules_dir)
    orders = OrderActivities(engine, rules)
    steps = OrderStepActivities(engine, settings, rules)
    stock = StockActivities(engine, settings)
    tasks = TaskActivities(engine)
    purchasing = PurchasingActivities(engine)
    mail = NotificationActivities(engine, settings)
    outbox = OutboxActivities(engine, settings)
    outbound = OutboundActivities(engine, settings)
    returns = ReturnActivities(engine, settings)
    return [
        orders.plan_order,
        orders.record_progress,
        orders.create_invoice,
        orders.record_prepayment,
        orders.check_payment,
        orders.check_credit,
        orders.amend_order,
        orders.find_sibling_quotes,
        orders.create_shipment_invoice,
        stock.check_stock,
        stock.allocate_stock,
        stock.release_stock,
        stock.create_pick_list,
        stock.pack_order,
        stock.allocate_shipment,
        stock.create_shipment_pick_list,
        stock.pack_shipment,
        purchasing.create_purchase_orders,
        purchasing.count_open_purchase_orders,
        purchasing.cancel_purchase_orders,
        tasks.create_task,
        tasks.escalate_task,
        mail.send_notification,
        outbox.drain_outbox,
        outbound.drain_outbound,
        tasks.record_task_completion,
        tasks.cancel_open_tasks,
        returns.restock_return,
        returns.request_refund_approval,
        returns.decide_return,
        returns.credit_return,
        returns.refund_return,
        returns.complete_return,
        *steps.all(),
    ]


def build_worker(
    client: Client, engine: Engine, settings: Settings, *, max_concurrent_activities: int = 16
) -> Worker:
    """A worker for Conveyor's task queue; sync activities run on a thread pool. With the
    worker metrics port set and a client connected with `metrics_runtime`, it also counts the
    business gauges. Its shutdown gives running activities `shutdown_grace_seconds` to finish
    before they are cancelled."""
    plugins = [_starts_outbox_dispatcher(client, settings)]
    gauges = gauges_plugin(client, engine, settings)
    if gauges is not None:
        plugins.append(gauges)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        workflow_runner=RUNNER,
        activities=build_activities(engine, settings),
        activity_executor=ThreadPoolExecutor(max_workers=max_concurrent_activities),
        max_concurrent_activities=max_concurrent_activities,
        graceful_shutdown_timeout=timedelta(seconds=settings.shutdown_grace_seconds),
        interceptors=[BoundedFailures()],
        plugins=plugins,
    )


async def ensure_outbox_dispatcher(client: Client, settings: Settings) -> None:
    """Start the task queue's outbox dispatcher unless one runs already (then nothing changes)."""
    await client.start_workflow(
        OutboxDispatcherWorkflow.run,
        OutboxDispatcherInput(),
        id=outbox_dispatcher_id(settings.task_queue),
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def ensure_outbound_dispatcher(client: Client, settings: Settings) -> None:
    """Start the task queue's outbound webhook dispatcher unless one runs already."""
    await client.start_workflow(
        OutboundDispatcherWorkflow.run,
        OutboundDispatcherInput(),
        id=outbound_dispatcher_id(settings.task_queue),
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


def _starts_outbox_dispatcher(client: Client, settings: Settings) -> SimplePlugin:
    # Every way a worker runs (`run`, `async with`) goes through its plugins' run context. The
    # start is tried beside the worker, again until Temporal takes it, so that a server that
    # is briefly away neither stops the worker nor leaves the outbox without its dispatcher.
    async def keep_trying() -> None:
        for attempt in itertools.count():
            try:
                await ensure_outbox_dispatcher(client, settings)
                await ensure_outbound_dispatcher(client, settings)
                return
            except RPCError as exc:
                logging.getLogger(__name__).warning("dispatchers not started yet: %s", exc)
                await asyncio.sleep(min(2**attempt, 30))

    @asynccontextmanager
    async def started() -> AsyncIterator[None]:
        starting = asyncio.create_task(keep_trying())
        try:
            yield
        finally:
            starting.cancel()

    return SimplePlugin("conveyor.outbox-dispatcher", run_context=started)


async def run_worker(settings: Settings = settings) -> None:
    """Connect and run a worker until SIGTERM (or SIGINT): then it takes no new tasks, lets
    the running activities finish (for up to `shutdown_grace_seconds`) and returns."""
    client = await connect(settings, runtime=metrics_runtime(settings))
    engine = make_engine(
        settings.effective_database_url, busy_timeout_seconds=settings.sqlite_busy_timeout_seconds
    )
    worker = build_worker(client, engine, settings)
    logging.getLogger(__name__).info("worker on task queue %s", settings.task_queue)
    if settings.worker_metrics_port:
        logging.getLogger(__name__).info(
            "worker metrics at http://%s:%d/metrics",
            settings.worker_metrics_host,
            settings.worker_metrics_port,
        )
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task] = []

    def _shut_down(signum: int) -> None:
        if stopping:
            return
        logging.getLogger(__name__).info(
            "%s: finishing the running activities (up to %g s), then stopping",
            signal.Signals(signum).name,
            settings.shutdown_grace_seconds,
        )
        stopping.append(asyncio.create_task(worker.shutdown()))

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _shut_down, signum)
    try:
        await worker.run()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


if __name__ == "__main__":
    configure_logging(settings.log_format)
    asyncio.run(run_worker())
