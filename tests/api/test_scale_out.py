"""Scale-out on one machine: two `conveyor api` and two worker processes on one PostgreSQL.

Web orders and store webhooks go in through both APIs at once (the same Shopify delivery to both),
three people share the allocation tasks round-robin, and there is less stock than is ordered.
Afterwards: the tasks are spread evenly (max - min <= 1), every order and delivery exists once,
no unit is committed twice or sold that was not there, and the short orders wait, backordered,
until stock arrives, then finish too.
"""

import asyncio
import itertools
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from bench.invariants import (
    Expected,
    no_duplicate_keys,
    orders_once,
    stock_matches_ledger,
    stock_per_order,
)
from conveyor.core.settings import Settings
from conveyor.invoice.models import Invoice, Payment
from conveyor.order.models import SalesOrder
from conveyor.task.models import Task, TaskStatus
from tests.conftest import RULES
from tests.utils.api import (
    auth,
    create_customer,
    create_employee,
    create_product,
    place_prepaid_web_order,
)
from tests.utils.processes import running_api, start_worker, stop
from tests.webhook.conftest import SHOPIFY_SECRET, post_shopify, shopify_order

WEB_ORDERS = 40
IN_STOCK = 34  # six web orders wait for stock
STORE_ORDERS = 8
STORE_SKUS = ("SKU2006-001", "SKU2006-020", "SKU2006-035")  # one of each in the sample


@pytest.fixture
def rules_dir() -> Path:
    """Web orders (store orders too): an order_desk task at allocation, round-robin."""
    return RULES / "web_round_robin"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared test settings with the Shopify secret the store deliveries are signed with."""
    return settings.model_copy(update={"shopify_secret": SecretStr(SHOPIFY_SECRET)})


def _settled(engine: Engine, numbers: list[str]) -> tuple[int, int]:
    """(orders with an allocation task, orders backordered before one) among `numbers`."""
    with Session(engine) as session:
        ids = session.exec(select(SalesOrder.id).where(col(SalesOrder.number).in_(numbers))).all()
        tasked = session.exec(
            select(func.count(func.distinct(Task.order_id))).where(col(Task.order_id).in_(ids))
        ).one()
        waiting = session.exec(
            select(func.count())
            .select_from(SalesOrder)
            .where(col(SalesOrder.id).in_(ids))
            .where(SalesOrder.status == "backordered")
            .where(~col(SalesOrder.id).in_(select(Task.order_id)))
        ).one()
    return tasked, waiting


async def _until(check, timeout: float = 240.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.5)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_apis_two_workers_share_fairly_and_lose_nothing(
    settings: Settings, engine: Engine, tmp_path: Path, mailbox
) -> None:
    async with (
        running_api(settings, tmp_path / "api-1.log") as (_, first),
        running_api(settings, tmp_path / "api-2.log") as (_, second),
    ):
        apis = (first, second)
        people = [await create_employee(first, ["order_desk"]) for _ in range(3)]
        for person, api in zip(people, itertools.cycle(apis)):
            clocked = await api.post(
                f"/api/employees/{person['id']}/clock-in", headers=auth(person)
            )
            assert clocked.status_code == 200, clocked.text
        product = await create_product(first, on_hand=IN_STOCK, price="4.00")
        for sku in STORE_SKUS:
            await create_product(second, sku=sku, on_hand=STORE_ORDERS)
        customer = await create_customer(second)
        workers = [start_worker(settings), start_worker(settings)]
        try:
            numbers = await _orders_through_both(apis, customer["id"], product["sku"])
            store_numbers = await _store_orders_through_both(apis)
            everyone = numbers + store_numbers

            # Every order either has its allocation task or waits for stock before one.
            await _until(lambda: sum(_settled(engine, everyone)) == len(everyone))
            with Session(engine) as session:
                per_person = Counter(session.exec(select(Task.assignee_id)).all())
            counts = [per_person[p["id"]] for p in people]
            assert sum(counts) == sum(per_person.values()), per_person  # nobody else got one
            assert max(counts) - min(counts) <= 1, counts

            await _complete_all_tasks(engine, apis, people)
            await _until(lambda: _completed(engine, numbers) == IN_STOCK)
            await _until(lambda: _at_collection(engine, store_numbers) == STORE_ORDERS)
            stock = (await first.get(f"/api/inventory/{product['sku']}")).json()
            assert (stock["on_hand"], stock["committed"]) == (0, 0), stock
            short = [n for n in numbers if _status(engine, n) == "backordered"]
            assert len(short) == WEB_ORDERS - IN_STOCK, short

            # Stock arrives through the second API: the waiting orders finish too (an order
            # backordered at the stock check gets its allocation task now, round-robin still).
            received = await second.post(
                f"/api/inventory/{product['sku']}/receive", json={"qty": WEB_ORDERS - IN_STOCK}
            )
            assert received.status_code == 200, received.text
            await _finish(engine, apis, people, numbers)
            with Session(engine) as session:
                per_person = Counter(session.exec(select(Task.assignee_id)).all())
            counts = [per_person[p["id"]] for p in people]
            assert max(counts) - min(counts) <= 1, counts
        finally:
            for worker in workers:
                stop(worker)
    _exactly_once(engine, numbers, store_numbers, product["sku"])


async def _orders_through_both(
    apis: tuple[httpx.AsyncClient, ...], customer_id: int, sku: str
) -> list[str]:
    turns = zip(itertools.cycle(apis), range(WEB_ORDERS))
    orders = (place_prepaid_web_order(api, customer_id, sku) for api, _ in turns)
    return list(await asyncio.gather(*orders))


async def _store_orders_through_both(apis: tuple[httpx.AsyncClient, ...]) -> list[str]:
    """Each Shopify delivery sent to both APIs at once (a store retrying elsewhere)."""

    async def deliver(index: int) -> str:
        body = shopify_order(str(830000000000000000 + index))
        webhook_id = str(uuid.uuid4())
        answers = await asyncio.gather(
            *(post_shopify(api, body, webhook_id=webhook_id) for api in apis)
        )
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        assert sorted(a.json()["outcome"] for a in answers) == ["duplicate", "processed"]
        (number,) = {a.json()["order_number"] for a in answers}
        return number

    return list(await asyncio.gather(*(deliver(i) for i in range(STORE_ORDERS))))


async def _finish(
    engine: Engine, apis: tuple[httpx.AsyncClient, ...], people: list[dict], numbers: list[str]
) -> None:
    """Complete whatever task is open until every order in `numbers` is completed."""
    deadline = asyncio.get_running_loop().time() + 240
    while _completed(engine, numbers) < len(numbers):
        assert asyncio.get_running_loop().time() < deadline, "orders did not complete"
        await _complete_all_tasks(engine, apis, people)
        await asyncio.sleep(0.5)


async def _complete_all_tasks(
    engine: Engine, apis: tuple[httpx.AsyncClient, ...], people: list[dict]
) -> None:
    """Each assignee completes their open tasks, alternating between the two APIs."""
    by_id = {p["id"]: p for p in people}
    with Session(engine) as session:
        tasks = session.exec(select(Task).where(Task.status == TaskStatus.OPEN)).all()
    for task, api in zip(tasks, itertools.cycle(apis)):
        person = by_id[task.assignee_id]
        done = await api.post(f"/api/tasks/{task.id}/complete", json={}, headers=auth(person))
        assert done.status_code == 200, done.text


def _status(engine: Engine, number: str) -> str:
    with Session(engine) as session:
        return session.exec(select(SalesOrder.status).where(SalesOrder.number == number)).one()


def _completed(engine: Engine, numbers: list[str]) -> int:
    return sum(_status(engine, n) == "completed" for n in numbers)


def _at_collection(engine: Engine, numbers: list[str]) -> int:
    with Session(engine) as session:
        steps = session.exec(
            select(SalesOrder.current_step).where(col(SalesOrder.number).in_(numbers))
        ).all()
    return sum(step == "collection" for step in steps)


def _exactly_once(engine: Engine, numbers: list[str], store: list[str], sku: str) -> None:
    """Every order once, each effect once, stock equal to its ledger and never oversold."""
    initial = {sku: IN_STOCK, **dict.fromkeys(STORE_SKUS, STORE_ORDERS)}
    expected = Expected(
        numbers={n: n for n in numbers + store},
        initial_stock=initial,
        receipts={sku: WEB_ORDERS - IN_STOCK},
    )
    with Session(engine) as session:
        checks = [
            orders_once(session, expected),
            stock_matches_ledger(session, expected),
            stock_per_order(session),
            no_duplicate_keys(session),
        ]
        orders = session.exec(select(SalesOrder)).all()
        refs = Counter(o.external_ref for o in orders if o.external_ref)
        ids = [o.id for o in orders if o.number in numbers]
        invoices = session.exec(select(Invoice.order_id).where(col(Invoice.order_id).in_(ids)))
        payments = session.exec(select(Payment.order_id).where(col(Payment.order_id).in_(ids)))
        assert sorted(invoices.all()) == sorted(payments.all()) == sorted(ids)
    assert [c for c in checks if not c.passed] == []
    assert len(refs) == len(store) and set(refs.values()) == {1}, refs
