"""Reports > Sales KPIs over HTTP: the page, its CSVs and GET /api/reports/kpis show the figures
of known orders, for callers holding the reports permission only."""

import csv
import io

import httpx
from sqlalchemy.engine import Engine

from conveyor.core.db import session_scope
from tests.conftest import ADMIN_TOKEN
from tests.report.test_kpis import known_orders
from tests.utils.api import auth, create_employee
from tests.utils.pages import staff_client


async def test_kpi_page_csv_and_api_show_the_known_figures(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    with session_scope(engine) as session:
        known = known_orders(session)

    admin = await staff_client(api, ADMIN_TOKEN)
    page = await admin.get("/reports/kpis?days=30")
    assert page.status_code == 200, page.text
    html = page.text
    assert 'data-testid="kpi-cycle-median">1d<' in html
    assert 'data-testid="kpi-cycle-p95">4d<' in html
    assert 'data-testid="kpi-on-time">50.0%<' in html
    assert 'data-testid="kpi-accuracy">25.0%<' in html
    assert "1 of 4 orders completed in the period went out complete in one shipment" in html
    reps = [row.split("</tr>")[0] for row in html.split('data-testid="sales-rep">')[1:]]
    assert len(reps) == 3 and "Rita Rep" in reps[1] and "150.00" in reps[1]
    assert 'href="/reports/sales_by_product.csv?days=30"' in html
    assert "data-chart=" in html
    assert 'data-testid="turnover"' in html

    export = await admin.get("/reports/sales_by_product.csv?days=30")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [(r["product"], r["currency"], r["orders"], r["qty"], r["total"]) for r in rows] == [
        ("A", "EUR", "1", "1", "30.00"),
        ("A", "USD", "2", "3", "90.00"),
        ("B", "USD", "2", "2", "60.00"),
        ("C", "USD", "1", "4", "20.00"),
    ]
    by_customer = await admin.get("/reports/sales_by_customer.csv?days=30")
    first = next(csv.DictReader(io.StringIO(by_customer.text)))
    assert (first["customer"], first["name"], first["total"]) == (
        str(known.bob_customer),
        "Bob GmbH",
        "30.00",
    )
    too_long = await admin.get("/reports/kpis?days=100000")
    assert too_long.status_code == 422
    await admin.aclose()

    supervisor = await create_employee(api, ["supervisor"], clearance=3)
    answer = await api.get("/api/reports/kpis", params={"days": 30}, headers=auth(supervisor))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["cycle_time"] == {"count": 4, "median_seconds": 86400.0, "p95_seconds": 345600.0}
    assert body["on_time_delivery"] == {"count": 2, "hits": 1, "percent": 50.0}
    assert body["delivered_without_requested_date"] == 1
    assert body["order_accuracy"] == {"count": 4, "hits": 1, "percent": 25.0}
    assert body["inventory_turnover"] == []  # no products
    assert [
        (r["key"], r["currency"], r["orders"], r["total"]) for r in body["sales_by_channel"]
    ] == [
        ("web", "EUR", 1, "30.00"),
        ("web", "USD", 2, "120.00"),
        ("phone", "USD", 1, "50.00"),
    ]
    clerk = await create_employee(api, ["warehouse"], clearance=5)
    refused = await api.get("/api/reports/kpis", headers=auth(clerk))
    assert refused.status_code == 403
    too_long = await api.get("/api/reports/kpis", params={"days": 100000})
    assert too_long.status_code == 422


async def test_the_customer_page_shows_purchasing_habits(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    with session_scope(engine) as session:
        known = known_orders(session)
    admin = await staff_client(api, ADMIN_TOKEN)
    page = await admin.get(f"/customers/{known.alice_customer}")
    await admin.aclose()
    assert page.status_code == 200, page.text
    html = page.text.split('data-testid="purchasing-habits"')[1].split("</section>")[0]
    totals = html.split('data-testid="habit-total">')[1].split("</tr>")[0]
    assert ">USD<" in totals and ">3<" in totals and "240.00" in totals and "80.00" in totals
    assert 'data-testid="habit-per-month">2.25<' in html
    assert 'data-testid="habit-days-between">17.0<' in html
    items = [row.split("</tr>")[0] for row in html.split('data-testid="habit-item">')[1:]]
    assert [row.split("</td>")[0].split(">")[-1] for row in items] == ["Item A", "Item C", "Item B"]
