"""The read side at scale, on SQLite and PostgreSQL: keyset pages (every row once, ties on the
due time and tasks without one), capped counts, and the indexes the migrations build."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from conveyor.core import keyset
from conveyor.core.db import session_scope
from conveyor.core.errors import Invalid
from conveyor.core.models import utcnow
from conveyor.customer.models import Customer
from conveyor.employee.models import Employee
from conveyor.order import service as order_service
from conveyor.order.models import SalesOrder
from conveyor.task import service as task_service
from conveyor.task.models import Task

SORTS = ("created", "-created", "due", "-due")


def _load(engine: Engine) -> tuple[int, list[Task]]:
    """Orders and 53 tasks of one employee: due times on three minutes only (ties), some without,
    open and completed mixed; returns the employee's id and the tasks."""
    now = utcnow().replace(microsecond=0)
    with session_scope(engine) as session:
        customer = Customer(name="K", email="k@example.com")
        clerk = Employee(name="Clerk", email="clerk@example.com", roles=["desk"])
        session.add_all([customer, clerk])
        session.flush()
        orders = [
            SalesOrder(number=f"KS-{i:03d}", channel="phone", customer_id=customer.id)
            for i in range(30)
        ]
        session.add_all(orders)
        session.flush()
        for i in range(53):
            order = orders[i % len(orders)]
            session.add(
                Task(
                    key=f"ks:{i}",
                    order_id=order.id,
                    order_number=order.number,
                    step="allocation",
                    role="desk",
                    assignee_id=clerk.id if i % 4 else None,
                    status="completed" if i % 9 == 0 else "open",
                    # Insert order differs from due order; 1 in 5 has no due time.
                    due_at=None if i % 5 == 0 else now + timedelta(minutes=(i * 7) % 3),
                    created_at=now - timedelta(minutes=i),
                )
            )
        session.flush()
        tasks = list(session.exec(select(Task)).all())
        return clerk.id or 0, tasks


def _expected(tasks: list[Task], sort: str) -> list[int]:
    """The documented order, worked out in Python: no due time last (first in reverse)."""
    if sort in ("created", "-created"):
        ids = sorted(t.id or 0 for t in tasks)
        return ids if sort == "created" else ids[::-1]
    dated = sorted((t.due_at, t.id or 0) for t in tasks if t.due_at is not None)
    undated = sorted(t.id or 0 for t in tasks if t.due_at is None)
    if sort == "due":
        return [i for _, i in dated] + undated
    return undated[::-1] + [i for _, i in reversed(dated)]


def _walk(session: Session, *, sort: str, scope: str = "all", status: str = "any") -> list[int]:
    """Every page by cursor, 7 at a time."""
    seen: list[int] = []
    cursor = None
    for _ in range(100):
        found = task_service.list_inbox(
            session=session,
            employee=None,
            scope=scope,
            status=status,
            sort=sort,
            limit=7,
            after=cursor,
        )
        seen += [t.id or 0 for t in found.rows]
        cursor = found.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("the cursor never ended")


@pytest.mark.parametrize("sort", SORTS)
def test_keyset_pages_hold_every_task_once_in_a_stable_order(engine: Engine, sort: str) -> None:
    _, tasks = _load(engine)
    with session_scope(engine) as session:
        walked = _walk(session, sort=sort)
        assert walked == _expected(tasks, sort)
        # The OFFSET pages (kept for old clients) give the same order, on both databases.
        by_offset = []
        for number in range(8):
            found = task_service.list_inbox(
                session=session,
                employee=None,
                scope="all",
                status="any",
                sort=sort,
                limit=7,
                offset=number * 7,
            )
            by_offset += [t.id or 0 for t in found.rows]
        assert by_offset == walked
        # A filtered walk (open ones only) is the same order, filtered.
        open_ids = {t.id for t in tasks if t.status == "open"}
        assert _walk(session, sort=sort, status="open") == [
            i for i in _expected(tasks, sort) if i in open_ids
        ]


def test_a_cursor_starts_after_its_row_even_when_rows_arrive_before_it(engine: Engine) -> None:
    clerk, tasks = _load(engine)
    with session_scope(engine) as session:
        first = task_service.list_inbox(
            session=session, employee=None, scope="all", status="any", sort="due", limit=10
        )
        assert first.next_cursor is not None and first.count == len(tasks) and first.exact
        # A task due before the page boundary appears meanwhile: the next page neither repeats
        # a row nor skips one of those after the boundary (an OFFSET would repeat one).
        session.add(
            Task(
                key="ks:new",
                order_id=tasks[0].order_id,
                order_number=tasks[0].order_number,
                step="allocation",
                role="desk",
                due_at=utcnow() - timedelta(days=1),
            )
        )
        session.flush()
        second = task_service.list_inbox(
            session=session,
            employee=None,
            scope="all",
            status="any",
            sort="due",
            limit=10,
            after=first.next_cursor,
        )
        expected = _expected(tasks, "due")
        assert [t.id for t in second.rows] == expected[10:20]


def test_mine_and_pool_walk_their_own_tasks(engine: Engine) -> None:
    clerk, tasks = _load(engine)
    with session_scope(engine) as session:
        employee = session.get(Employee, clerk)
        mine = [t.id for t in tasks if t.assignee_id == clerk and t.status == "open"]
        seen, cursor = [], None
        while True:
            found = task_service.list_inbox(
                session=session, employee=employee, scope="mine", sort="due", limit=4, after=cursor
            )
            seen += [t.id for t in found.rows]
            if (cursor := found.next_cursor) is None:
                break
        assert sorted(seen) == sorted(mine) and len(seen) == len(set(seen))
        pool = task_service.list_inbox(session=session, employee=employee, scope="pool", limit=100)
        assert {t.id for t in pool.rows} == {
            t.id for t in tasks if t.assignee_id is None and t.status == "open"
        }


def test_cursors_of_another_sort_or_made_up_are_refused(engine: Engine) -> None:
    _load(engine)
    with session_scope(engine) as session:
        found = task_service.list_inbox(
            session=session, employee=None, scope="all", sort="due", limit=5
        )
        assert found.next_cursor is not None
        with pytest.raises(Invalid, match="sort 'due'"):
            task_service.list_inbox(
                session=session, employee=None, scope="all", sort="created", after=found.next_cursor
            )
        forged = keyset.encode(keyset.Cursor("due", 0, ("yesterday", 3)))
        for bad in ("", "not-a-cursor", "W10", forged, keyset.encode(keyset.Cursor("due", 5, ()))):
            with pytest.raises(Invalid):
                task_service.list_inbox(
                    session=session, employee=None, scope="all", sort="due", after=bad
                )


def test_counts_stop_at_the_cap_and_pages_past_it_still_answer(engine: Engine) -> None:
    _, tasks = _load(engine)
    with session_scope(engine) as session:
        query = select(Task)
        assert keyset.capped_count(session, query, cap=100) == (len(tasks), True)
        assert keyset.capped_count(session, query, cap=len(tasks)) == (len(tasks), True)
        assert keyset.capped_count(session, query, cap=10) == (10, False)
        order = task_service.SORTS["created"]
        page = keyset.page(session, query, order, limit=5, offset=20, cap=10)
        # "10+" tasks, yet page 5 (rows 21-25) is there: a capped count never hides rows.
        assert (page.count, page.exact) == (10, False)
        assert [t.id for t in page.rows] == _expected(tasks, "created")[20:25]
        assert keyset.page(session, query, order, limit=5, offset=100, cap=10).rows == []
        exact = keyset.page(session, query, order, limit=5, offset=100)
        assert (exact.rows, exact.count, exact.exact) == ([], len(tasks), True)


def test_order_list_pages_by_cursor_newest_first(engine: Engine) -> None:
    _load(engine)
    with session_scope(engine) as session:
        every = [o.number for o in session.exec(select(SalesOrder)).all()]
        seen, cursor = [], None
        while True:
            found = order_service.list_orders_page(session=session, limit=4, after=cursor)
            assert found.count == len(every) and found.exact
            seen += [o.number for o in found.rows]
            if (cursor := found.next_cursor) is None:
                break
        assert seen == sorted(every, reverse=True)
        # The (rows, count) shape the customer pages use is unchanged.
        rows, count = order_service.list_orders(session=session, limit=3)
        assert [o.number for o in rows] == seen[:3] and count == len(every)


READ_SIDE_INDEXES = {
    "task": {
        "ix_task_open_assignee_due": ["assignee_id", "due_at", "id"],
        "ix_task_open_role_due": ["role", "due_at", "id"],
        "ix_task_pool_role_due": ["role", "due_at", "id"],
        "ix_task_open_due": ["due_at", "id"],
        "ix_task_status_id": ["status", "id"],
        "ix_task_created_at": ["created_at"],
        "ix_task_completed_at": ["completed_at"],
    },
    "salesorder": {
        "ix_salesorder_status_step": ["status", "current_step"],
        "ix_salesorder_status_id": ["status", "id"],
        "ix_salesorder_created_at": ["created_at"],
    },
    "orderevent": {"ix_orderevent_kind_at": ["kind", "at"]},
}


def test_the_read_side_indexes_exist_after_migrating(engine: Engine) -> None:
    found = inspect(engine)
    for table, wanted in READ_SIDE_INDEXES.items():
        indexes = {i["name"]: i["column_names"] for i in found.get_indexes(table)}
        for name, columns in wanted.items():
            assert indexes.get(name) == columns, (table, name, indexes.get(name))


def test_the_open_task_indexes_are_partial(engine: Engine) -> None:
    """Only open tasks (a few percent of them) are in the inbox indexes."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'task'"
            ).all()
        else:
            rows = connection.exec_driver_sql(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'task'"
            ).all()
    definitions = {name: sql or "" for name, sql in rows}
    for name in ("ix_task_open_assignee_due", "ix_task_open_role_due", "ix_task_open_due"):
        assert "WHERE" in definitions[name].upper() and "open" in definitions[name], name
    assert "assignee_id IS NULL" in definitions["ix_task_pool_role_due"]


def test_money_for_many_orders_matches_one_at_a_time(engine: Engine) -> None:
    from conveyor.invoice import service as invoice_service
    from conveyor.invoice.models import CreditNote, Invoice, Payment

    with session_scope(engine) as session:
        customers = [Customer(name=f"M{i}", email=f"m{i}@example.com") for i in range(2)]
        session.add_all(customers)
        session.flush()
        orders = [
            SalesOrder(number=f"MO-{i}", channel="phone", customer_id=customers[i % 2].id)
            for i in range(5)
        ]
        session.add_all(orders)
        session.flush()
        for i, order in enumerate(orders[:4]):
            invoice = Invoice(
                number=f"MI-{i}",
                key=f"mi:{i}",
                order_id=order.id,
                currency="USD",
                total=Decimal("100.00") + i,
            )
            session.add(invoice)
            session.flush()
            session.add(
                Payment(key=f"mp:{i}", order_id=order.id, amount=Decimal("30.50"), currency="USD")
            )
            if i % 2:
                session.add(
                    CreditNote(
                        number=f"MC-{i}",
                        key=f"mc:{i}",
                        invoice_id=invoice.id,
                        order_id=order.id,
                        currency="USD",
                        total=Decimal("10.00"),
                    )
                )
        session.flush()
        ids = [o.id or 0 for o in orders]
        money = invoice_service.money_by_order(session=session, order_ids=ids)
        receivables = invoice_service.open_receivables_many(session=session, orders=orders)
        for order in orders:
            one = order.id or 0
            assert money[one].invoiced == invoice_service.invoiced_total(
                session=session, order_id=one
            )
            assert money[one].paid == invoice_service.paid_total(session=session, order_id=one)
            assert money[one].credited == invoice_service.credited_total(
                session=session, order_id=one
            )
            assert receivables[one] == invoice_service.open_receivables(
                session=session, customer_id=order.customer_id, exclude_order_id=one
            )
        assert invoice_service.money_by_order(session=session, order_ids=[]) == {}
