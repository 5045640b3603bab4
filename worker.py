"""The Conveyor worker: registers the workflows and activities on the task queue and runs them."""

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.worker import Worker

from activities.notification_activities import NotificationActivities
from activities.order_activities import OrderActivities
from activities.purchasing_activities import PurchasingActivities
from activities.return_activities import ReturnActivities
from activities.stock_activities import StockActivities
from activities.task_activities import TaskActivities
from conveyor.core.db import make_engine
from conveyor.core.settings import Settings, settings
from conveyor.core.temporal import connect
from routing_rules.registry import RuleRegistry
from workflows.returns import ReturnWorkflow
from workflows.v7.sales_order import SalesOrderWorkflow

WORKFLOWS = [SalesOrderWorkflow, ReturnWorkflow]


def build_activities(engine: Engine, settings: Settings) -> list:
    """Every activity, bound to its clients (database engine, rule registry) and settings."""
    orders = OrderActivities(engine, RuleRegistry(settings.rules_dir))
    stock = StockActivities(engine, settings)
    tasks = TaskActivities(engine)
    purchasing = PurchasingActivities(engine)
    mail = NotificationActivities(engine, settings)
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
        tasks.record_task_completion,
        tasks.cancel_open_tasks,
        returns.restock_return,
        returns.credit_return,
        returns.refund_return,
        returns.complete_return,
    ]


def build_worker(
    client: Client, engine: Engine, settings: Settings, *, max_concurrent_activities: int = 16
) -> Worker:
    """A worker for Conveyor's task queue; sync activities run on a thread pool."""
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=build_activities(engine, settings),
        activity_executor=ThreadPoolExecutor(max_workers=max_concurrent_activities),
        max_concurrent_activities=max_concurrent_activities,
    )


async def run_worker(settings: Settings = settings) -> None:
    """Connect and run a worker until cancelled."""
    client = await connect(settings)
    engine = make_engine(settings.effective_database_url)
    worker = build_worker(client, engine, settings)
    logging.getLogger(__name__).info("worker on task queue %s", settings.task_queue)
    await worker.run()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    asyncio.run(run_worker())
