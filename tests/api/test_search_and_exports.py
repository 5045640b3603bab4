"""Text search treats LIKE wildcards as text; CSV exports cannot carry spreadsheet formulas."""

import ast
import csv
import io
import uuid
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine

from conveyor.core.db import session_scope
from conveyor.core.spreadsheet import safe_cell, to_csv
from conveyor.order import service as order_service
from conveyor.report import service as report_service
from conveyor.task import service as task_service
from tests.conftest import ADMIN_TOKEN
from tests.utils.api import create_customer, create_employee, create_product, place_order
from tests.utils.pages import staff_client

ROOT = Path(__file__).resolve().parents[2]


async def test_like_wildcards_in_q_match_only_themselves(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    product = await create_product(api)
    customer = await create_customer(api)
    promo = await place_order(api, customer["id"], [(product["sku"], 1)], external_ref="promo_50%")
    plain = await place_order(api, customer["id"], [(product["sku"], 1)])
    cases = {
        "%": [promo],  # only the order whose reference holds a percent sign
        "_": [promo],
        "o_5": [promo],
        "o%5": [],  # as a wildcard it would match "o_5"
        "\\": [],
        "promo": [promo],
        plain["number"]: [plain],
    }
    for q, expected in cases.items():
        listed = await api.get("/api/orders", params={"q": q})
        assert listed.status_code == 200, listed.text
        numbers = [o["number"] for o in listed.json()["data"]]
        assert numbers == [o["number"] for o in expected], q

    # The monitor's search (order, customer and assignee filters) escapes the same way.
    holder = await create_employee(api, ["warehouse"])
    with session_scope(engine) as session:
        order = order_service.get_by_number(session=session, number=plain["number"])
        assert order is not None and order.id is not None
        task_service.create(
            session=session,
            key=f"test:{uuid.uuid4()}",
            order_id=order.id,
            order_number=plain["number"],
            step="picking",
            role="warehouse",
            assignee_id=holder["id"],
        )
    with session_scope(engine) as session:

        def found(**filters: str) -> list[str]:
            orders = report_service.search_orders(session=session, **filters)
            return [o.number or "" for o in orders]

        assert found(q="%") == [promo["number"]]
        assert found(q="o%5") == []
        assert found(q=customer["email"][:6]) == [plain["number"], promo["number"]]
        assert found(assignee="%") == []
        assert found(assignee=holder["email"]) == [plain["number"]]


def test_formula_cells_are_defused() -> None:
    for dangerous in ("=1+2", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", "\r=1"):
        assert safe_cell(dangerous) == "'" + dangerous
    for harmless in ("plain", "a=b", "-12.50", "+3", "42", "", "'quoted"):
        assert safe_cell(harmless) == harmless
    assert safe_cell(-5) == -5 and safe_cell(None) is None
    text = to_csv(["who", "n"], [['=HYPERLINK("http://x")', 1], ["-1.00", -1]])
    assert list(csv.reader(io.StringIO(text))) == [
        ["who", "n"],
        ['\'=HYPERLINK("http://x")', "1"],
        ["-1.00", "-1"],
    ]


def test_every_csv_export_uses_the_shared_writer() -> None:
    # One writer, one escaping rule: no other module may write CSV on its own.
    writers = []
    for path in sorted((ROOT / "conveyor").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            if "csv" in names:
                writers.append(str(path.relative_to(ROOT)))
    assert writers == ["conveyor/core/spreadsheet.py"]


async def test_report_csv_defuses_formulas_in_names(api: httpx.AsyncClient, engine: Engine) -> None:
    product = await create_product(api)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)])
    emails = ["=1+2@example.com", "+cmd@example.com", "-x@example.com"]
    holders = []
    for email in emails:
        created = await api.post(
            "/api/employees", json={"name": "Formula", "email": email, "roles": ["warehouse"]}
        )
        assert created.status_code == 201, created.text
        holders.append(created.json())
    with session_scope(engine) as session:
        row = order_service.get_by_number(session=session, number=order["number"])
        assert row is not None and row.id is not None
        for holder in holders:
            task_service.create(
                session=session,
                key=f"test:{uuid.uuid4()}",
                order_id=row.id,
                order_number=order["number"],
                step="picking",
                role="warehouse",
                assignee_id=holder["id"],
            )
    admin = await staff_client(api, ADMIN_TOKEN)
    export = await admin.get("/reports/work.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = {row["email"]: row for row in csv.DictReader(io.StringIO(export.text))}
    assert set(rows) == {"'" + email for email in emails}
    assert all(row["open_now"] == "1" for row in rows.values())
    await admin.aclose()
