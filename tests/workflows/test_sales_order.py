"""The SalesOrder workflow (v8): a handful of activities and a short history per order."""

from collections import Counter

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from conveyor.core.temporal import order_workflow_id
from conveyor.invoice.models import Invoice, Payment
from conveyor.notification.models import OutboxMessage
from conveyor.order.models import OrderEvent, SalesOrder
from tests.utils.api import create_customer, create_product, place_order, wait_for_order
from workflows.types import SalesOrderNames

# An all-auto prepaid order, read from Temporal (issue 11: at most 10 activity tasks, 80 events).
MAX_ACTIVITIES = 10
MAX_EVENTS = 80


async def test_all_auto_prepaid_order_takes_few_activities_and_events(
    api: httpx.AsyncClient, worker, temporal_client: Client, engine: Engine
) -> None:
    product = await create_product(api, on_hand=5, price="9.99")
    customer = await create_customer(api)
    order = await place_order(
        api, customer["id"], [(product["sku"], 2)], channel="web", prepaid=True
    )
    number = order["number"]
    final = await wait_for_order(api, number, lambda o: o["status"] == "completed")
    assert final["totals"]["paid"] == "19.98" and final["current_step"] is None

    handle = temporal_client.get_workflow_handle(order_workflow_id(number))
    description = await handle.describe()
    assert description.workflow_type == SalesOrderNames.WORKFLOW == "SalesOrder"
    assert await handle.result() == {"order_number": number, "status": "completed"}
    history = await handle.fetch_history()
    types = Counter(event.event_type for event in history.events)
    activities = types[EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
    print(f"all-auto prepaid order: {activities} activities, {len(history.events)} events")
    assert activities <= MAX_ACTIVITIES
    assert len(history.events) <= MAX_EVENTS
    assert types[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED] == 1

    kinds = [e["kind"] for e in final["events"]]
    assert kinds.count("completed") == 1 and kinds[-1] == "completed"
    assert [e["step"] for e in final["events"] if e["kind"] == "step_completed"] == [
        "quote",
        "stock_check",
        "allocation",
        "picking",
        "packing",
        "invoicing",
        "collection",
    ]
    with Session(engine) as session:
        row = session.exec(select(SalesOrder).where(SalesOrder.number == number)).one()
        assert len(session.exec(select(Invoice).where(Invoice.order_id == row.id)).all()) == 1
        assert len(session.exec(select(Payment).where(Payment.order_id == row.id)).all()) == 1
        events = session.exec(select(OrderEvent).where(OrderEvent.order_id == row.id)).all()
        assert [e.at for e in events] == sorted(e.at for e in events)  # written in order
        mails = session.exec(select(OutboxMessage).where(OutboxMessage.order_number == number))
        suffixes = ("confirmation", "shipped", f"invoice:{_invoice_number(final)}", "paid")
        assert sorted(m.key for m in mails) == sorted(f"{number}:{s}" for s in suffixes)


def _invoice_number(order: dict) -> str:
    invoiced = next(e["message"] for e in order["events"] if e["kind"] == "invoiced")
    return invoiced.split()[1]  # "invoice INV-... for 19.98"
