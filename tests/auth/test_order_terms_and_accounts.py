"""Issue 12 findings 1 and 2: what a person may put on an order they place, and which orders and
customers a sales rep sees."""

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from conveyor.order.models import SalesOrder
from tests.utils.api import auth, create_customer, create_employee, create_product
from tests.utils.pages import staff_client


@pytest.fixture
async def catalogue(api: httpx.AsyncClient) -> dict:
    product = await create_product(api, on_hand=50, price="10.00")
    customer = await create_customer(api)
    return {"customer_id": customer["id"], "lines": [{"sku": product["sku"], "qty": 1}]}


def _orders(engine: Engine) -> int:
    with Session(engine) as session:
        return len(session.exec(select(SalesOrder)).all())


async def test_only_sales_and_the_order_desk_place_orders(
    api: httpx.AsyncClient, catalogue: dict, engine: Engine
) -> None:
    clerk = await create_employee(api, roles=["warehouse"], clearance=5)
    response = await api.post("/api/orders", json=catalogue, headers=auth(clerk))
    assert response.status_code == 403, response.text
    assert "orders.place" in response.json()["detail"]
    assert _orders(engine) == 0
    desk = await create_employee(api, roles=["order_desk"], clearance=1)
    response = await api.post("/api/orders", json=catalogue, headers=auth(desk))
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "extra",
    [
        {"prepaid": True},
        {"channel": "web"},
        {"prices_include_tax": True},
        {"charges": [{"kind": "shipping", "description": "free", "amount": "0.00"}]},
        {"external_ref": "shopify:999"},
    ],
    ids=["prepaid", "channel", "tax-inclusive", "charges", "store-reference"],
)
async def test_a_clerk_cannot_fake_what_a_store_or_a_payment_says(
    api: httpx.AsyncClient, catalogue: dict, engine: Engine, extra: dict
) -> None:
    desk = await create_employee(api, roles=["order_desk"], clearance=2)
    response = await api.post("/api/orders", json=catalogue | extra, headers=auth(desk))
    assert response.status_code == 403, response.text
    assert _orders(engine) == 0  # refused before anything was written


async def test_order_terms_need_clearance_three_and_prepaid_needs_a_webhook(
    api: httpx.AsyncClient, catalogue: dict
) -> None:
    senior = await create_employee(api, roles=["order_desk"], clearance=3)
    response = await api.post(
        "/api/orders", json=catalogue | {"channel": "phone"}, headers=auth(senior)
    )
    assert response.status_code == 201, response.text
    for extra in ({"prepaid": True}, {"external_ref": "WooCommerce:12"}):
        response = await api.post("/api/orders", json=catalogue | extra, headers=auth(senior))
        assert response.status_code == 403, (extra, response.text)
    # The store namespace is reserved even for the admin token; a plain reference is fine.
    response = await api.post("/api/orders", json=catalogue | {"external_ref": "shopify:1"})
    assert response.status_code == 403, response.text
    response = await api.post("/api/orders", json=catalogue | {"external_ref": "PO-778"})
    assert response.status_code == 201, response.text


async def test_a_sales_rep_sees_only_the_accounts_they_own(
    api: httpx.AsyncClient, catalogue: dict
) -> None:
    product_line = catalogue["lines"]
    rep = await create_employee(api, roles=["sales"], clearance=2)
    other = await create_employee(api, roles=["sales"], clearance=2)
    senior = await create_employee(api, roles=["sales"], clearance=3)
    mine = await create_customer(api, account_rep_id=rep["id"])
    theirs = await create_customer(api, account_rep_id=other["id"])
    numbers = {}
    for name, customer in (("mine", mine), ("theirs", theirs)):
        response = await api.post(
            "/api/orders", json={"customer_id": customer["id"], "lines": product_line}
        )
        assert response.status_code == 201, response.text
        numbers[name] = response.json()["number"]

    assert (await api.get(f"/api/orders/{numbers['mine']}", headers=auth(rep))).status_code == 200
    hidden = await api.get(f"/api/orders/{numbers['theirs']}", headers=auth(rep))
    assert hidden.status_code == 404  # existence does not leak
    listed = (await api.get("/api/orders", headers=auth(rep))).json()
    assert [o["number"] for o in listed["data"]] == [numbers["mine"]]
    assert listed["count"] == 1
    assert (await api.get(f"/api/customers/{mine['id']}", headers=auth(rep))).status_code == 200
    assert (await api.get(f"/api/customers/{theirs['id']}", headers=auth(rep))).status_code == 404

    # The rep places orders for their own accounts only; another's is as unknown as none.
    own = {"customer_id": mine["id"], "lines": product_line}
    assert (await api.post("/api/orders", json=own, headers=auth(rep))).status_code == 201
    other_account = {"customer_id": theirs["id"], "lines": product_line}
    refused = await api.post("/api/orders", json=other_account, headers=auth(rep))
    assert refused.status_code == 422 and "not found" in refused.json()["detail"]
    assert (
        await api.post("/api/orders", json=other_account, headers=auth(senior))
    ).status_code == 201

    everything = (await api.get("/api/orders", headers=auth(senior))).json()
    assert {numbers["mine"], numbers["theirs"]} <= {o["number"] for o in everything["data"]}

    pages = await staff_client(api, rep["token"])
    try:
        assert (await pages.get(f"/orders/{numbers['mine']}")).status_code == 200
        assert (await pages.get(f"/orders/{numbers['theirs']}")).status_code == 404
        assert (await pages.get(f"/customers/{theirs['id']}")).status_code == 404
    finally:
        await pages.aclose()


async def test_a_warehouse_clerk_reads_no_customers_invoices_prices_or_reports(
    api: httpx.AsyncClient, catalogue: dict
) -> None:
    clerk = await create_employee(api, roles=["warehouse"], clearance=5)
    customer_id = catalogue["customer_id"]
    for url in (
        f"/api/customers/{customer_id}",
        "/api/invoices?order=X",
        "/api/price-agreements",
        "/api/accounting/journal?from=2026-01-01&to=2026-12-31",
    ):
        response = await api.get(url, headers=auth(clerk))
        assert response.status_code == 403, (url, response.text)
    pages = await staff_client(api, clerk["token"])
    try:
        for url in ("/reports", "/monitor", f"/customers/{customer_id}"):
            assert (await pages.get(url)).status_code == 403, url
        inbox = await pages.get("/inbox")
        assert inbox.status_code == 200
        assert 'href="/reports"' not in inbox.text and 'href="/monitor"' not in inbox.text
    finally:
        await pages.aclose()


async def test_work_per_employee_is_for_supervisors_only(api: httpx.AsyncClient) -> None:
    accountant = await create_employee(api, roles=["accountant"], clearance=3)
    supervisor = await create_employee(api, roles=["supervisor"], clearance=3)
    pages = await staff_client(api, accountant["token"])
    try:
        report = await pages.get("/reports")
        assert report.status_code == 200
        assert "Orders, bookings and revenue per day" in report.text
        assert "Work per employee" not in report.text
        assert (await pages.get("/reports/work.csv")).status_code == 403
        assert (await pages.get("/reports/orders.csv")).status_code == 200
    finally:
        await pages.aclose()
    pages = await staff_client(api, supervisor["token"])
    try:
        assert "Work per employee" in (await pages.get("/reports")).text
        assert (await pages.get("/reports/work.csv")).status_code == 200
    finally:
        await pages.aclose()
