"""Continue-as-new: long waits keep every run's history short, and the order still reads as one.

The orders here are recorded through the order service and their SalesOrder workflow started
with a short recheck and (in the first test) a low history bound, so that runs continue-as-new
within seconds; everything after that goes through the API as usual.
"""

import asyncio
import html
import time
from collections import Counter
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from conveyor.audit.service import Actor
from conveyor.core.db import session_scope
from conveyor.core.settings import Settings
from conveyor.core.temporal import data_converter, order_workflow_id
from conveyor.invoice.models import Invoice, Payment
from conveyor.notification.models import OutboxMessage
from conveyor.order import service as order_service
from conveyor.order.models import OrderCreate, OrderEvent, OrderLineCreate, SalesOrder
from conveyor.order.wording import staff_event
from tests.conftest import ADMIN_TOKEN
from tests.utils.api import create_customer, create_product, wait_for_order
from tests.utils.pages import staff_client
from workflows.sales_order import SalesOrderWorkflow
from workflows.types import SalesOrderInput

STEPS = ("quote", "stock_check", "allocation", "picking", "packing", "invoicing", "collection")
# Issue 11: an order waiting through thousands of rechecks keeps every run under this.
RUN_HISTORY_LIMIT = 2000
WAIT_FOR_PAYMENT_SECONDS = 60
# The dev server fires timers on whole seconds: a 50 ms recheck wakes about once a second, six
# events a wake. A bound of 150 events has a minute of waiting run through several runs.
LOW_BOUND = 150
# Rechecks every 50 ms (about once a second on the dev server), a new run every 60 events.
_SHORT = {"backorder_recheck_seconds": 0.05, "max_history_events": 60}


async def start_order(
    engine: Engine,
    client: Client,
    settings: Settings,
    customer_id: int,
    lines: list[tuple[str, int]],
    **workflow_input: Any,
) -> tuple[str, str]:
    """Record an order and start its SalesOrder workflow with `workflow_input`; (number, run)."""

    def record() -> str:
        with session_scope(engine) as session:
            order = order_service.create(
                session=session,
                order_in=OrderCreate(
                    customer_id=customer_id,
                    lines=[OrderLineCreate(sku=sku, qty=qty) for sku, qty in lines],
                ),
                created_by="test",
                number_prefix=settings.order_number_prefix,
                actor=Actor.cli("test"),
            )
            order.workflow_started = True  # started here, not by the API's starter
            session.add(order)
            assert order.number
            return order.number

    number = await asyncio.to_thread(record)
    handle = await client.start_workflow(
        "SalesOrder",
        SalesOrderInput(order_number=number, activity_timeout_seconds=20, **workflow_input),
        id=order_workflow_id(number),
        task_queue=settings.task_queue,
    )
    assert handle.first_execution_run_id
    return number, handle.first_execution_run_id


async def runs(client: Client, number: str, first_run: str) -> list[WorkflowHistory]:
    """The history of every run of the order's workflow, first to current."""
    histories = []
    run_id: str | None = first_run
    while run_id:
        handle = client.get_workflow_handle(order_workflow_id(number), run_id=run_id)
        history = await handle.fetch_history()
        histories.append(history)
        last = history.events[-1]
        run_id = None
        if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return histories


async def wait_for_runs(
    client: Client, number: str, first_run: str, count: int, timeout: float = 60
) -> list[WorkflowHistory]:
    """Wait until the workflow has continued-as-new into its `count`th run."""
    deadline = time.monotonic() + timeout
    while True:
        histories = await runs(client, number, first_run)
        if len(histories) >= count:
            return histories
        assert time.monotonic() < deadline, f"{len(histories)} runs after {timeout}s"
        await asyncio.sleep(0.2)


async def replay(histories: list[WorkflowHistory]) -> None:
    replayer = Replayer(workflows=[SalesOrderWorkflow], data_converter=data_converter)
    for history in histories:
        await replayer.replay_workflow(history)


def _order_rows(engine: Engine, number: str) -> tuple[list[OrderEvent], int, int, list[str]]:
    """The trail, invoice and payment counts and the mail keys of an order."""
    with Session(engine) as session:
        order = session.exec(select(SalesOrder).where(SalesOrder.number == number)).one()
        events = list(session.exec(select(OrderEvent).where(OrderEvent.order_id == order.id)))
        invoices = len(session.exec(select(Invoice).where(Invoice.order_id == order.id)).all())
        payments = len(session.exec(select(Payment).where(Payment.order_id == order.id)).all())
        mails = session.exec(select(OutboxMessage).where(OutboxMessage.order_number == number))
        return events, invoices, payments, [m.key for m in mails]


async def test_continued_while_backordered_then_unpaid_completes_as_one_order(
    api: httpx.AsyncClient, worker, temporal_client: Client, engine: Engine, settings: Settings
) -> None:
    product = await create_product(api, on_hand=0, price="4.10")
    customer = await create_customer(api)
    number, first_run = await start_order(
        engine,
        temporal_client,
        settings,
        customer["id"],
        [(product["sku"], 3)],
        backorder_recheck_seconds=0.05,
        max_history_events=120,
    )

    # Waiting for stock, the rechecks continue it as new.
    await wait_for_order(api, number, lambda o: o["status"] == "backordered")
    await wait_for_runs(temporal_client, number, first_run, 2)
    received = await api.post(f"/api/inventory/{product['sku']}/receive", json={"qty": 3})
    assert received.status_code == 200, received.text

    # Waiting for payment, again.
    await wait_for_order(api, number, lambda o: o["current_step"] == "collection")
    before = len(await runs(temporal_client, number, first_run))
    await wait_for_runs(temporal_client, number, first_run, before + 1)
    progress = await temporal_client.get_workflow_handle(order_workflow_id(number)).query(
        SalesOrderWorkflow.progress
    )
    assert (progress.status, progress.current_step) == ("open", "collection")
    paid = await api.post(f"/api/orders/{number}/payments", json={"amount": "12.30"})
    assert paid.status_code == 201, paid.text
    final = await wait_for_order(api, number, lambda o: o["status"] == "completed")
    result = await temporal_client.get_workflow_handle(order_workflow_id(number)).result()
    assert result == {"order_number": number, "status": "completed"}

    events, invoices, payments, mails = _order_rows(engine, number)
    assert (invoices, payments) == (1, 1)
    assert len({e.key for e in events}) == len(events)
    kinds = Counter(e.kind for e in events)
    for kind in ("routed", "backordered", "stock_available", "allocated", "pick_list"):
        assert kinds[kind] == 1, kind
    for kind in ("packed", "invoiced", "paid", "completed"):
        assert kinds[kind] == 1, kind
    for kind in ("step_started", "step_completed"):
        assert sorted(e.step for e in events if e.kind == kind) == sorted(STEPS), kind
    assert [e.kind for e in events][-1] == "completed"
    assert len(mails) == len(set(mails)) == 4  # confirmation, shipped, invoice, paid
    assert final["totals"]["balance"] == "0.00"

    # The staff order page shows the whole trail.
    staff = await staff_client(api, ADMIN_TOKEN)
    page = await staff.get(f"/orders/{number}")
    assert page.status_code == 200
    units = sum(line["qty"] for line in final["lines"])  # as the page counts the goods
    for event in events:
        shown = staff_event(event.kind, event.step, event.message, units=units)
        assert html.escape(shown, quote=False) in page.text, shown
    await staff.aclose()

    histories = await runs(temporal_client, number, first_run)
    assert len(histories) >= 3
    assert all(len(h.events) < 200 for h in histories), [len(h.events) for h in histories]
    await replay(histories)


async def test_history_stays_bounded_while_payment_is_awaited(
    api: httpx.AsyncClient, worker, temporal_client: Client, engine: Engine, settings: Settings
) -> None:
    product = await create_product(api, on_hand=5, price="10.00")
    customer = await create_customer(api)
    number, first_run = await start_order(
        engine,
        temporal_client,
        settings,
        customer["id"],
        [(product["sku"], 2)],
        backorder_recheck_seconds=0.05,
        max_history_events=LOW_BOUND,
    )
    await wait_for_order(api, number, lambda o: o["current_step"] == "collection")
    await asyncio.sleep(WAIT_FOR_PAYMENT_SECONDS)  # a recheck every 50 ms meanwhile

    histories = await runs(temporal_client, number, first_run)
    lengths = [len(h.events) for h in histories]
    rechecks = sum(
        e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED for h in histories for e in h.events
    )
    activities = sum(
        e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        for h in histories
        for e in h.events
    )
    print(
        f"waiting for payment {WAIT_FOR_PAYMENT_SECONDS}s: {rechecks} rechecks, "
        f"{activities} activity tasks, runs of {lengths} events"
    )
    assert len(histories) >= 3, lengths
    assert max(lengths) < min(RUN_HISTORY_LIMIT, LOW_BOUND + 20), lengths
    # A recheck that finds nothing costs no activity task: one per step, one per new run.
    assert activities <= 7 + len(histories), activities

    paid = await api.post(f"/api/orders/{number}/payments", json={"amount": "20.00"})
    assert paid.status_code == 201, paid.text
    await wait_for_order(api, number, lambda o: o["status"] == "completed")
    result = await temporal_client.get_workflow_handle(order_workflow_id(number)).result()
    assert result == {"order_number": number, "status": "completed"}
    events, invoices, payments, mails = _order_rows(engine, number)
    assert (invoices, payments) == (1, 1)
    kinds = Counter(e.kind for e in events)
    assert (kinds["paid"], kinds["completed"]) == (1, 1)
    assert sorted(m.split(":", 1)[1] for m in mails if m.endswith(":paid")) == ["paid"]
    histories = await runs(temporal_client, number, first_run)
    assert max(len(h.events) for h in histories) < RUN_HISTORY_LIMIT


async def test_dunning_keeps_its_schedule_across_runs(
    api: httpx.AsyncClient, worker, temporal_client: Client, engine: Engine, settings: Settings
) -> None:
    product = await create_product(api, on_hand=5, price="12.00")
    customer = await create_customer(api)
    number, first_run = await start_order(
        engine,
        temporal_client,
        settings,
        customer["id"],
        [(product["sku"], 2)],
        backorder_recheck_seconds=0.05,
        max_history_events=60,
        dunning_schedule_seconds=[4.0, 8.0],
    )
    reminded = await wait_for_order(
        api,
        number,
        lambda o: sum(e["kind"] == "payment_reminder" for e in o["events"]) == 2,
        timeout=30,
    )
    histories = await runs(temporal_client, number, first_run)
    assert len(histories) >= 2  # continued as new between invoice and reminders
    events = reminded["events"]
    invoiced_at = datetime.fromisoformat(next(e["at"] for e in events if e["kind"] == "invoiced"))
    reminders = [e for e in events if e["kind"] == "payment_reminder"]
    assert [r["message"] for r in reminders] == [
        "payment reminder 1: 24.00 still due",
        "payment reminder 2: 24.00 still due",
    ]
    # Due 4 s and 8 s after the invoice, not counted again from a new run (the dev server fires
    # timers on whole seconds, and a loaded machine adds its delay).
    delays = [(datetime.fromisoformat(r["at"]) - invoiced_at).total_seconds() for r in reminders]
    assert 4 <= delays[0] < 8 and 8 <= delays[1] < 12, delays
    await asyncio.sleep(1)
    assert (await api.get(f"/api/orders/{number}")).json()["events"] == events  # no third
    paid = await api.post(f"/api/orders/{number}/payments", json={"amount": "24.00"})
    assert paid.status_code == 201, paid.text
    await wait_for_order(api, number, lambda o: o["status"] == "completed")
    _, _, _, mails = _order_rows(engine, number)
    assert sorted(m for m in mails if ":dunning:" in m) == [
        f"{number}:dunning:1",
        f"{number}:dunning:2",
    ]


async def test_updates_reach_the_order_after_it_continued_as_new(
    api: httpx.AsyncClient, worker, temporal_client: Client, engine: Engine, settings: Settings
) -> None:
    product = await create_product(api, on_hand=2, price="5.00")
    customer = await create_customer(api)
    lines = [(product["sku"], 5)]
    amended, first_amended = await start_order(
        engine, temporal_client, settings, customer["id"], lines, **_SHORT
    )
    cancelled, first_cancelled = await start_order(
        engine, temporal_client, settings, customer["id"], lines, **_SHORT
    )
    for number, first_run in ((amended, first_amended), (cancelled, first_cancelled)):
        await wait_for_order(api, number, lambda o: o["status"] == "backordered")
        await wait_for_runs(temporal_client, number, first_run, 2)

    # amend (an update) in a later run: the order goes on with the new lines
    answer = await api.post(
        f"/api/orders/{amended}/amend", json={"lines": [{"sku": product["sku"], "qty": 2}]}
    )
    assert answer.status_code == 200, answer.text
    await wait_for_order(api, amended, lambda o: o["current_step"] == "collection")
    # cancel (an update that waits for the compensation) in a later run
    answer = await api.post(f"/api/orders/{cancelled}/cancel?reason=too+slow")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "cancelled"
    assert "too slow" in answer.json()["events"][-1]["message"]
    result = await temporal_client.get_workflow_handle(order_workflow_id(cancelled)).result()
    assert result == {"order_number": cancelled, "status": "cancelled"}
    stock = (await api.get(f"/api/inventory/{product['sku']}")).json()
    assert (stock["on_hand"], stock["committed"]) == (0, 0)  # 2 packed for the amended order
    events, *_ = _order_rows(engine, amended)
    assert Counter(e.kind for e in events)["amended"] == 1
