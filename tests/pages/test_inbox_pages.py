"""The inbox page shows its task cards 50 at a time: the next ones follow the page's cursor,
every open task once, and the live refresh keeps the page it is on."""

import re
from datetime import timedelta
from html import unescape

import httpx
from sqlalchemy.engine import Engine

from conveyor.core.db import session_scope
from conveyor.core.models import utcnow
from conveyor.customer.models import Customer
from conveyor.order.models import SalesOrder
from conveyor.pages.inbox import CARDS_PER_PAGE
from conveyor.task.models import Task
from tests.utils.api import create_employee
from tests.utils.pages import staff_client

CARD = re.compile(r'data-testid="task" data-order="[^"]+" data-task="(\d+)"')
POLL = re.compile(r'hx-get="(/inbox/tasks\?[^"]*)"')
NEXT = re.compile(r'href="(/inbox\?[^"]+)" rel="next"')


def _open_tasks(engine: Engine, employee_id: int, count: int) -> set[int]:
    """`count` open allocation tasks held by the employee, due on three minutes only (ties)."""
    now = utcnow()
    with session_scope(engine) as session:
        customer = Customer(name="Paged", email="paged@example.com")
        session.add(customer)
        session.flush()
        order = SalesOrder(number="PG-0001", channel="phone", customer_id=customer.id)
        session.add(order)
        session.flush()
        tasks = [
            Task(
                key=f"paged:{i}",
                order_id=order.id,
                order_number=order.number,
                step="allocation",
                role="warehouse",
                assignee_id=employee_id,
                due_at=now + timedelta(minutes=i % 3),
            )
            for i in range(count)
        ]
        session.add_all(tasks)
        session.flush()
        return {task.id or 0 for task in tasks}


async def test_the_inbox_pages_through_every_open_task_once(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    clerk = await create_employee(api, ["warehouse"])
    expected = _open_tasks(engine, clerk["id"], CARDS_PER_PAGE * 2 + 7)
    page = await staff_client(api, clerk["token"])

    seen: list[int] = []
    url: str | None = "/inbox?sort=due"
    while url:
        answer = await page.get(url)
        assert answer.status_code == 200, answer.text
        cards = [int(i) for i in CARD.findall(answer.text)]
        assert 0 < len(cards) <= CARDS_PER_PAGE
        assert f"{len(expected):,} tasks" in answer.text
        seen += cards
        # What the page polls every few seconds keeps its cursor: the same cards again.
        polled = await page.get(unescape(POLL.search(answer.text).group(1)))
        assert [int(i) for i in CARD.findall(polled.text)] == cards
        found = NEXT.search(answer.text)
        url = unescape(found.group(1)) if found else None
    assert len(seen) == len(expected) and set(seen) == expected
    assert len(seen) // CARDS_PER_PAGE + 1 == 3  # three pages: 50, 50, 7

    tampered = await page.get("/inbox?after=not-a-cursor")
    assert tampered.status_code == 422
    assert "not a cursor this list gave out" in tampered.text
