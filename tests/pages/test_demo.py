"""The demo data of `conveyor dev` fills every page (seeded, then placed through a live API)."""

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from conveyor.cli.dev import _print_banner
from conveyor.core.db import session_scope
from conveyor.core.models import utcnow
from conveyor.core.settings import Settings
from conveyor.customer.models import Customer
from conveyor.demo.orders import HISTORY, DemoOrders
from conveyor.demo.seed import CUSTOMER_LOGINS, seed
from conveyor.order import service as order_service
from conveyor.order.models import SalesOrder
from conveyor.task import escalation
from conveyor.task import service as task_service
from tests.conftest import ADMIN_TOKEN, fresh_sqlite_url
from tests.utils.pages import customer_client, staff_client
from tests.utils.people import staff_password_client


@pytest.fixture
def rules_dir() -> Path:
    """The rules that ship with Conveyor, as `conveyor dev` uses them."""
    return Path(__file__).resolve().parents[2] / "routing_rules" / "rules"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite, as `conveyor dev` runs."""
    return fresh_sqlite_url(tmp_path)


async def test_demo_orders_fill_every_page(
    api: httpx.AsyncClient, worker, engine: Engine, live_server: str, tmp_path: Path
) -> None:
    accounts = seed(engine, tmp_path / "demo-accounts.json")
    demo = DemoOrders(live_server, ADMIN_TOKEN, accounts, engine)
    # Blocking HTTP; the worker runs on this loop meanwhile.
    placed = await asyncio.to_thread(demo.run)
    assert placed >= 15

    # The history holds together: customers were customers before their first order, and last
    # week's orders took minutes to hours from placing to completion, not seconds.
    with session_scope(engine) as session:
        for customer in session.exec(select(Customer)).all():
            orders = session.exec(
                select(SalesOrder).where(SalesOrder.customer_id == customer.id)
            ).all()
            assert all(customer.created_at < o.created_at for o in orders), customer.name
        history = session.exec(
            select(SalesOrder).where(col(SalesOrder.external_ref).like("H-%"))
        ).all()
        assert len(history) == len(HISTORY)
        for order in history:
            took = order.completed_at - order.created_at
            assert timedelta(minutes=10) < took < timedelta(days=1), (order.number, took)
            assert order.completed_at < utcnow() - timedelta(hours=12)

        # The order waiting two hours shows the SLA's reminder and reassignment at the times
        # they were due; the workflow's own timers, firing later, find them done.
        stuck = session.exec(select(SalesOrder).where(SalesOrder.external_ref == "W-1005")).one()
        task = next(t for t in task_service.list_for_order(session=session, order_id=stuck.id))
        assert task.reminded_at == task.created_at + timedelta(minutes=15)
        assert task.escalated_at == task.created_at + timedelta(minutes=30)
        trail = {e.kind: e.at for e in order_service.events(session=session, order_id=stuck.id)}
        assert trail["sla_reminder"] == task.reminded_at
        assert trail["escalated"] == task.escalated_at
        again = escalation.escalate(session=session, task_id=task.id, action="remind")
        assert again is not None and again.action == "none"

    admin = await staff_client(api, ADMIN_TOKEN)
    monitor = (await admin.get("/monitor")).text
    stuck = monitor.split('data-testid="stuck"', 1)[1].split("</section>", 1)[0]
    assert stuck.count("/orders/") == 1  # the web order waiting two hours
    assert "backordered" in monitor and "Contoso Ltd" in monitor
    reports = (await admin.get("/reports")).text
    orders_kpi = reports.split('data-testid="kpi-orders">', 1)[1].split("<", 1)[0]
    assert int(orders_kpi) >= 15
    assert "walter@conveyor.example" in reports  # work per employee
    pipeline = await admin.get("/opportunities")
    assert pipeline.status_code == 200
    assert "Warehouse scanners for the new site" in pipeline.text  # Sam's deals
    await admin.aclose()

    alice = next(a for a in accounts if a["email"] == "alice@conveyor.example")
    desk = await staff_client(api, alice["token"])
    assert 'data-testid="task"' in (await desk.get("/inbox?scope=all")).text
    await desk.aclose()

    email, password = next(iter(CUSTOMER_LOGINS.items()))
    customer = await customer_client(api, email, password)
    center = (await customer.get("/customer")).text
    assert "Quotes waiting for your answer" in center
    quote = center.split('href="/customer/orders/', 1)[1].split('"', 1)[0]
    detail = (await customer.get(f"/customer/orders/{quote}")).text
    assert "Accept quote" in detail and "German keyboard" in detail
    await customer.aclose()


def _section(banner: str, title: str) -> list[str]:
    """The indented lines under the banner line starting with `title`."""
    lines = banner.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title)) + 1
    found = []
    for line in lines[start:]:
        if not line.startswith("    "):
            break
        found.append(line)
    return found


async def test_the_banner_prints_e_mail_and_password_sign_ins_that_work(
    api: httpx.AsyncClient,
    engine: Engine,
    settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    accounts = seed(engine, tmp_path / "demo-accounts.json")
    _print_banner(settings, "http://127.0.0.1:8000", ADMIN_TOKEN, accounts, tmp_path)
    banner = capsys.readouterr().out
    staff = _section(banner, "  Staff (e-mail / password)")
    customers = _section(banner, "  Customer center (e-mail / password)")
    tokens = "\n".join(_section(banner, "  API tokens for scripts"))
    assert len(staff) == len(accounts) and len(customers) == len(CUSTOMER_LOGINS)
    assert all(account["token"] in tokens for account in accounts)

    alice = next(line.split() for line in staff if "alice@" in line)
    desk = await staff_password_client(api, alice[0], alice[1])
    inbox = await desk.get("/inbox")
    assert inbox.status_code == 200 and "Alice Desk" in inbox.text
    await desk.aclose()

    email, password = customers[0].split()
    customer = await customer_client(api, email, password)
    await customer.aclose()
