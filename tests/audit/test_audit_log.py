"""The audit log: one entry per change with who, through what, before and after; GET /api/audit."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import func, select

from conveyor.audit.models import AuditEntry
from conveyor.audit.service import Actor
from conveyor.core.db import session_scope
from conveyor.customer import service as customer_service
from conveyor.customer.models import CustomerCreate
from tests.utils.api import auth, create_customer, create_employee, create_product, place_order
from tests.utils.pages import staff_client


def _entries(engine: Engine, **where: str) -> list[AuditEntry]:
    """The stored entries matching `where` (column = value), oldest first."""
    with session_scope(engine) as session:
        query = select(AuditEntry)
        for column, value in where.items():
            query = query.where(getattr(AuditEntry, column) == value)
        return list(session.exec(query.order_by(AuditEntry.id)))


def _count(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.exec(select(func.count()).select_from(AuditEntry)).one()


async def test_an_api_change_by_the_admin_token_writes_one_entry(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    before = _count(engine)
    customer = await create_customer(api, credit_limit="500.00")
    assert _count(engine) == before + 1
    [entry] = _entries(engine, entity="customer", entity_id=str(customer["id"]))
    assert (entry.action, entry.actor, entry.actor_kind, entry.source) == (
        "customer.create",
        "admin token",
        "admin_token",
        "api",
    )
    assert entry.employee_id is None
    assert entry.before is None
    assert entry.after["email"] == customer["email"]
    assert entry.after["credit_limit"] == "500.00"
    assert "password_hash" not in entry.after  # secrets never reach the log


async def test_an_employee_change_names_the_employee(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    clerk = await create_employee(api, ["warehouse"])
    product = await create_product(api, on_hand=2)
    before = _count(engine)
    answer = await api.post(
        f"/api/inventory/{product['sku']}/receive",
        json={"qty": 5, "location": "B-07"},
        headers=auth(clerk),
    )
    assert answer.status_code == 200, answer.text
    assert _count(engine) == before + 1
    [entry] = _entries(engine, action="stock.receive", entity_id=product["sku"])
    assert (entry.actor, entry.actor_kind, entry.employee_id, entry.source) == (
        clerk["email"],
        "employee",
        clerk["id"],
        "api",
    )
    assert entry.before["on_hand"] == 2 and entry.after["on_hand"] == 7
    assert entry.after["location"] == "B-07"  # the bin move is in the same entry


async def test_a_page_change_is_recorded_with_the_page_as_source(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    clerk = await create_employee(api, ["order_desk"])
    page = await staff_client(api, clerk["token"])
    try:
        before = _count(engine)
        answer = await page.post("/inbox/clock", {"action": "in"})
        assert answer.status_code == 303, answer.text
    finally:
        await page.aclose()
    assert _count(engine) == before + 1
    [entry] = _entries(engine, action="employee.clock_in", entity_id=str(clerk["id"]))
    assert (entry.actor, entry.employee_id, entry.source) == (clerk["email"], clerk["id"], "page")
    assert (entry.before, entry.after) == ({"on_duty": False}, {"on_duty": True})


async def test_an_order_shows_its_entries_on_its_page(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 2)])
    [entry] = _entries(engine, entity="order", entity_id=order["number"])
    assert entry.action == "order.place"
    assert entry.after["lines"] == [{"sku": product["sku"], "qty": 2, "unit_price": "10.00"}]
    admin = await staff_client(api, "test-admin-token-0123456789")
    try:
        page = await admin.get(f"/orders/{order['number']}")
    finally:
        await admin.aclose()
    assert page.status_code == 200
    assert 'data-testid="order-audit"' in page.text
    assert 'data-action="order.place"' in page.text


async def test_a_refused_change_writes_no_entry(api: httpx.AsyncClient, engine: Engine) -> None:
    customer = await create_customer(api)
    before = _count(engine)
    again = await api.post("/api/customers", json={"name": "Twin", "email": customer["email"]})
    assert again.status_code == 409
    assert _count(engine) == before


def test_a_rolled_back_change_takes_its_entry_with_it(engine: Engine) -> None:
    email = f"gone-{uuid.uuid4().hex[:8]}@example.com"
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        customer_service.create(
            session=session,
            customer_in=CustomerCreate(name="Gone", email=email),
            actor=Actor.cli("test"),
        )
        session.flush()
        assert session.exec(select(AuditEntry).where(AuditEntry.actor == "test")).first()
        raise RuntimeError("the change fails after the entry was written")
    with session_scope(engine) as session:
        assert customer_service.get_by_email(session=session, email=email) is None
    assert _entries(engine, action="customer.create", actor="test") == []


async def test_get_audit_filters_and_paginates(api: httpx.AsyncClient, engine: Engine) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    made = [await create_customer(api) for _ in range(3)]
    query = {"entity": "customer", "since": start.isoformat()}
    first = await api.get("/api/audit", params=query | {"page_size": 2})
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["count"], body["page"], body["page_size"]) == (3, 1, 2)
    newest_first = [str(c["id"]) for c in reversed(made)]
    assert [e["entity_id"] for e in body["entries"]] == newest_first[:2]
    second = (await api.get("/api/audit", params=query | {"page_size": 2, "page": 2})).json()
    assert [e["entity_id"] for e in second["entries"]] == newest_first[2:]

    one = await api.get("/api/audit", params={"entity": "customer", "entity_id": made[0]["id"]})
    assert [e["after"]["email"] for e in one.json()["entries"]] == [made[0]["email"]]
    by_action = (await api.get("/api/audit", params=query | {"action": "customer.create"})).json()
    assert by_action["count"] == 3
    by_actor = (await api.get("/api/audit", params=query | {"actor": "nobody@example.com"})).json()
    assert by_actor["count"] == 0
    until = (await api.get("/api/audit", params={**query, "until": start.isoformat()})).json()
    assert until["count"] == 0
    naive = start.replace(tzinfo=None).isoformat()  # a time without a zone is UTC
    assert (await api.get("/api/audit", params={"entity": "customer", "since": naive})).json()[
        "count"
    ] == 3


async def test_the_audit_log_is_for_admins(api: httpx.AsyncClient) -> None:
    clerk = await create_employee(api, ["order_desk"], clearance=3)
    refused = await api.get("/api/audit", headers=auth(clerk))
    assert refused.status_code == 403
    page = await staff_client(api, clerk["token"])
    try:
        assert (await page.get("/audit")).status_code == 403
        assert 'href="/audit"' not in (await page.get("/inbox")).text
    finally:
        await page.aclose()
    admin = await staff_client(api, "test-admin-token-0123456789")
    try:
        listing = await admin.get("/audit", params={"entity": "employee"})
        assert listing.status_code == 200
        assert 'data-action="employee.create"' in listing.text
        assert 'href="/audit"' in (await admin.get("/inbox")).text
    finally:
        await admin.aclose()
