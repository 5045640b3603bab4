"""Report read models: percentiles, and durations/day totals/workload over a real database."""

from datetime import timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine

from conveyor.core.db import session_scope
from conveyor.core.models import utcnow
from conveyor.customer.models import Customer
from conveyor.employee.models import Employee
from conveyor.order import trail
from conveyor.order.models import SalesOrder
from conveyor.report import service as report_service
from conveyor.task.models import Task, TaskStatus


def test_percentile_nearest_rank() -> None:
    assert report_service.percentile([], 50) is None
    assert report_service.percentile([5.0], 95) == 5.0
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert report_service.percentile(values, 50) == 10.0
    assert report_service.percentile(values, 95) == 19.0
    assert report_service.percentile(list(reversed(values)), 100) == 20.0


def test_read_models(engine: Engine) -> None:
    now = utcnow()
    with session_scope(engine) as session:
        customer = Customer(name="R", email="r@example.com")
        worker = Employee(name="W", email="w@example.com", roles=["warehouse"], token_hash="x" * 64)
        session.add_all([customer, worker])
        session.flush()
        orders = []
        for i, (status, total) in enumerate(
            [("completed", "10.00"), ("open", "5.50"), ("cancelled", "99.00")]
        ):
            order = SalesOrder(
                number=f"RP-{i}",
                channel="phone",
                customer_id=customer.id,
                status=status,
                total=Decimal(total),
                current_step="picking" if status == "open" else None,
                created_at=now - timedelta(days=i),
            )
            session.add(order)
            session.flush()
            orders.append(order)
        for order, seconds in zip(orders, (60, 120, 600), strict=True):
            start = now - timedelta(hours=1)
            # Through the trail, as the order's activities write it: the completion carries
            # its step's duration.
            trail.write(
                session=session,
                order=order,
                entries=[
                    trail.Entry(
                        key=f"{order.number}:s", kind="step_started", step="picking", at=start
                    ),
                    trail.Entry(
                        key=f"{order.number}:c",
                        kind="step_completed",
                        step="picking",
                        at=start + timedelta(seconds=seconds),
                    ),
                ],
            )
        session.add(
            Task(
                key="t1",
                order_id=orders[0].id,
                order_number="RP-0",
                step="picking",
                role="warehouse",
                status=TaskStatus.COMPLETED,
                completed_by="w@example.com",
                completed_at=now,
                due_at=now - timedelta(minutes=1),
                created_at=now - timedelta(minutes=5),
            )
        )
        session.add(
            Task(
                key="t-admin",
                order_id=orders[0].id,
                order_number="RP-0",
                step="packing",
                role="warehouse",
                status=TaskStatus.COMPLETED,
                completed_by="admin token",  # not a person: left out of the work per employee
                completed_at=now,
                created_at=now - timedelta(minutes=5),
            )
        )
        session.add(
            Task(
                key="t2",
                order_id=orders[1].id,
                order_number="RP-1",
                step="picking",
                role="warehouse",
                assignee_id=worker.id,
                due_at=now - timedelta(minutes=1),
                created_at=now - timedelta(minutes=5),
            )
        )

    since = now - timedelta(days=7)
    with session_scope(engine) as session:
        picking = next(
            d
            for d in report_service.step_durations(session=session, since=since)
            if d.step == "picking"
        )
        assert (picking.count, picking.median, picking.p95) == (3, 120.0, 600.0)
        days = report_service.orders_per_day(session=session, since=since)
        assert len(days) == 8
        assert sum(d.orders for d in days) == 2 and sum(d.cancelled for d in days) == 1
        assert sum(d.bookings.get("USD", 0) for d in days) == Decimal("15.50")
        assert sum(d.revenue.get("USD", 0) for d in days) == 0  # nothing invoiced
        breaches = report_service.sla_breaches(session=session, since=since)
        assert [(b.step, b.role, b.with_sla, b.breached) for b in breaches] == [
            ("picking", "warehouse", 2, 2)
        ]
        work = report_service.work_per_employee(session=session, since=since)
        # By name; late: the one completed after its due time and the open one past it.
        assert [(w.who, w.email, w.completed, w.late, w.open_now) for w in work] == [
            ("W", "w@example.com", 1, 2, 1)
        ]
        stuck = report_service.overdue_tasks(session=session)
        assert [order.number for _, order in stuck] == ["RP-1"]
        counts = report_service.counts_by_step_and_status(session=session)
        assert counts[("picking", "open")] == 1 and counts[(None, "completed")] == 1
        found = report_service.search_orders(session=session, assignee="w@example")
        assert [o.number for o in found] == ["RP-1"]
        assert [o.number for o in report_service.search_orders(session=session, q="RP-2")] == [
            "RP-2"
        ]
