"""Assignment strategies against a real database, including concurrent assigners."""

import uuid
from concurrent.futures import ThreadPoolExecutor

from sqlmodel import Session

from conveyor.audit.service import Actor
from conveyor.core.db import session_scope
from conveyor.customer import service as customer_service
from conveyor.customer.models import CustomerCreate
from conveyor.employee import service as employee_service
from conveyor.employee.models import EmployeeCreate
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import ProductCreate
from conveyor.order import service as order_service
from conveyor.order.models import OrderCreate, OrderLineCreate
from conveyor.task import assignment
from conveyor.task import service as task_service
from conveyor.task.models import Task


def _employees(engine, count: int, role: str, on_duty: bool = True) -> list[int]:
    ids = []
    with session_scope(engine) as session:
        for i in range(count):
            employee, _ = employee_service.create(
                session=session,
                employee_in=EmployeeCreate(
                    name=f"{role} {i}", email=f"{role}{i}-{on_duty}@example.com", roles=[role]
                ),
            )
            if on_duty:
                employee_service.clock_in(session=session, employee=employee)
            ids.append(employee.id)
    return ids


def _order(engine, account_rep_id: int | None = None) -> tuple[int, str, int]:
    with session_scope(engine) as session:
        if inventory_service.get_by_sku(session=session, sku="P1") is None:
            inventory_service.create(
                session=session,
                product_in=ProductCreate(name="Item", sku="P1", price="1.00", on_hand=5),
                default_warehouse="MAIN",
                actor=Actor.cli("test"),
            )
        customer = customer_service.create(
            session=session,
            customer_in=CustomerCreate(
                name="C",
                email=f"c{account_rep_id}-{uuid.uuid4().hex[:12]}@example.com",
                account_rep_id=account_rep_id,
            ),
            actor=Actor.cli("test"),
        )
        order = order_service.create(
            session=session,
            order_in=OrderCreate(customer_id=customer.id, lines=[OrderLineCreate(sku="P1", qty=1)]),
            created_by="test",
            actor=Actor.cli("test"),
        )
        return order.id, order.number, customer.id


def _new_task(
    engine,
    key: str,
    order: tuple[int, str, int],
    strategy: str,
    role: str = "desk",
    fallback: str = "pool",
) -> int | None:
    with session_scope(engine) as session:
        task = task_service.create(
            session=session,
            key=key,
            order_id=order[0],
            order_number=order[1],
            step="allocation",
            role=role,
            assign=strategy,
            fallback=fallback,
        )
        chosen = assignment.assign(session=session, task=task, customer_id=order[2])
        return chosen.id if chosen else None


def test_round_robin_skips_people_off_duty(engine) -> None:
    on_duty = _employees(engine, 3, "desk")
    off_duty = _employees(engine, 1, "desk", on_duty=False)
    order = _order(engine)
    got = [_new_task(engine, f"k{i}", order, "round_robin") for i in range(9)]
    assert got == on_duty * 3
    assert off_duty[0] not in got


def test_nobody_on_duty_leaves_the_task_in_the_pool(engine) -> None:
    _employees(engine, 2, "desk", on_duty=False)
    assert _new_task(engine, "k1", _order(engine), "round_robin") is None
    assert _new_task(engine, "k2", _order(engine), "pool") is None


def test_least_loaded_prefers_fewest_open_tasks(engine) -> None:
    first, second = _employees(engine, 2, "desk")
    order = _order(engine)
    with session_scope(engine) as session:  # `first` already holds two open tasks
        for key in ("a", "b"):
            task_service.create(
                session=session,
                key=key,
                order_id=order[0],
                order_number=order[1],
                step="picking",
                role="desk",
                assignee_id=first,
            )
    got = [_new_task(engine, f"k{i}", order, "least_loaded") for i in range(4)]
    assert got[:2] == [second, second]
    assert sorted(got[2:]) == sorted([first, second])


def test_owner_goes_to_the_account_rep_else_falls_back(engine) -> None:
    desk = _employees(engine, 2, "desk")
    rep = _employees(engine, 1, "sales", on_duty=False)[0]
    assert _new_task(engine, "o1", _order(engine, account_rep_id=rep), "owner") == rep
    fallback = _new_task(engine, "o2", _order(engine), "owner", fallback="round_robin")
    assert fallback in desk
    assert _new_task(engine, "o3", _order(engine), "owner", fallback="pool") is None


def test_concurrent_round_robin_stays_even(engine) -> None:
    people = _employees(engine, 3, "desk")
    order = _order(engine)
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda i: _new_task(engine, f"c{i}", order, "round_robin"), range(90)))
    counts = [got.count(p) for p in people]
    assert counts == [30, 30, 30]
    with Session(engine) as session:
        assert session.get(Task, 1) is not None
