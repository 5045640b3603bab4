"""Reports > Work per employee: people by name (the e-mail only in the CSV), the admin token is
nobody's work, and an open task past its due time counts as late."""

import csv
import io
from datetime import timedelta

import httpx
from sqlalchemy.engine import Engine

from conveyor.core.db import session_scope
from conveyor.core.models import utcnow
from conveyor.customer.models import Customer
from conveyor.order.models import SalesOrder
from conveyor.task.models import Task, TaskStatus
from tests.conftest import ADMIN_TOKEN
from tests.utils.api import create_employee
from tests.utils.pages import staff_client


async def test_work_per_employee_names_people_and_counts_open_overdue_as_late(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    clerk = await create_employee(api, ["warehouse"])
    renamed = await api.patch(f"/api/employees/{clerk['id']}", json={"name": "Wendy Warehouse"})
    assert renamed.status_code == 200, renamed.text
    now = utcnow()
    with session_scope(engine) as session:
        customer = Customer(name="Work page", email=f"work-{clerk['id']}@example.com")
        session.add(customer)
        session.flush()
        order = SalesOrder(number=f"WP-{clerk['id']}", channel="phone", customer_id=customer.id)
        session.add(order)
        session.flush()
        common = {"order_id": order.id, "order_number": order.number, "role": "warehouse"}
        session.add_all(
            [
                Task(
                    key=f"wp-{clerk['id']}-done",
                    step="picking",
                    status=TaskStatus.COMPLETED,
                    completed_by=clerk["email"],
                    completed_at=now,
                    due_at=now + timedelta(hours=1),  # on time
                    **common,
                ),
                Task(
                    key=f"wp-{clerk['id']}-admin",
                    step="packing",
                    status=TaskStatus.COMPLETED,
                    completed_by="admin token",
                    completed_at=now,
                    **common,
                ),
                Task(
                    key=f"wp-{clerk['id']}-open",
                    step="packing",
                    assignee_id=clerk["id"],
                    due_at=now - timedelta(minutes=5),  # open and overdue: late
                    **common,
                ),
            ]
        )

    admin = await staff_client(api, ADMIN_TOKEN)
    page = (await admin.get("/reports")).text
    rows = [row.split("</tr>")[0] for row in page.split('<tr data-testid="work-row">')[1:]]
    mine = next(row for row in rows if "Wendy Warehouse" in row)
    cells = [cell.split("</td>")[0] for cell in mine.split("<td")[1:5]]
    assert cells[0].endswith(">Wendy Warehouse") and [c.split(">")[-1] for c in cells[1:]] == [
        "1",
        "1",
        "1",
    ]
    assert not any("admin token" in row for row in rows)
    assert f">{clerk['email']}<" not in page
    export = await admin.get("/reports/work.csv")
    await admin.aclose()
    found = {row["email"]: row for row in csv.DictReader(io.StringIO(export.text))}
    assert found[clerk["email"]]["employee"] == "Wendy Warehouse"
    assert found[clerk["email"]]["late"] == "1"
    assert "admin token" not in export.text
