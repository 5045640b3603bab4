"""Payment terms: templates through the API (checked, permitted, audited), invoices dated by
them, an early payment of the discounted amount settling the invoice with the discount in a
balanced journal, lateness from the due date, and the migration of existing day counts."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from conveyor.accounting import mapping as account_mapping
from conveyor.accounting import service as accounting_service
from conveyor.core.db import make_engine, session_scope
from conveyor.core.migrate import alembic_config
from conveyor.core.models import UTCDateTime
from conveyor.invoice import read as invoice_read
from conveyor.invoice import service as invoice_service
from conveyor.invoice.models import DISCOUNT_METHOD
from conveyor.invoice.standing import standing
from conveyor.order.flows import dunning_schedule
from conveyor.order.models import SalesOrder
from tests.utils.api import (
    auth,
    create_customer,
    create_employee,
    create_product,
    place_order,
    wait_for_order,
)
from tests.utils.pdf import read_pdf
from tests.utils.terms import add_customer, add_terms, issue_invoice, load_invoice, pay

NET14_2 = {"code": "net14-2", "name": "14 net, 2% in 7", "net_days": 14}
NET14_2 |= {"discount_percent": "2.00", "discount_days": 7}


async def test_terms_templates_through_the_api(api: httpx.AsyncClient) -> None:
    created = await api.post("/api/payment-terms", json=NET14_2)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["code"], body["net_days"], body["discount_percent"]) == ("NET14-2", 14, "2.00")
    assert body["description"] == "14 days net, 2% if paid within 7 days"
    assert (await api.post("/api/payment-terms", json=NET14_2)).status_code == 409
    half = {"code": "HALF", "net_days": 30, "discount_percent": "2"}  # no discount days
    assert (await api.post("/api/payment-terms", json=half)).status_code == 422
    longer = {"code": "LONG", "net_days": 10, "discount_percent": "2", "discount_days": 20}
    assert (await api.post("/api/payment-terms", json=longer)).status_code == 422

    changed = await api.patch("/api/payment-terms/net14-2", json={"deposit_percent": "25"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["description"].endswith("25% deposit")
    assert [t["code"] for t in (await api.get("/api/payment-terms")).json()] == ["NET14-2"]

    # A customer takes the template: its net days become the customer's days.
    customer = await create_customer(api, payment_terms_code="NET14-2")
    assert (customer["payment_terms_code"], customer["payment_terms_days"]) == ("NET14-2", 14)
    unknown = await api.patch(
        f"/api/customers/{customer['id']}", json={"payment_terms_code": "NOPE"}
    )
    assert unknown.status_code == 422
    # Templates with customers stay; retired ones are no longer offered.
    refused = await api.post("/api/payment-terms/NET14-2/retire")
    assert refused.status_code == 409 and "Test Customer" in refused.json()["detail"]
    own_days = await api.patch(f"/api/customers/{customer['id']}", json={"payment_terms_days": 45})
    assert own_days.json()["payment_terms_code"] is None  # days of its own: no template
    assert (await api.post("/api/payment-terms/NET14-2/retire")).status_code == 200
    again = await api.patch(
        f"/api/customers/{customer['id']}", json={"payment_terms_code": "NET14-2"}
    )
    assert again.status_code == 422 and "retired" in again.json()["detail"]

    entries = (await api.get("/api/audit", params={"entity": "payment_terms"})).json()["entries"]
    assert {e["action"] for e in entries} == {
        "payment_terms.create",
        "payment_terms.update",
        "payment_terms.retire",
    }

    # Anyone who sees customers reads templates; only admins manage them.
    desk = await create_employee(api, ["order_desk"], clearance=5)
    assert (await api.get("/api/payment-terms", headers=auth(desk))).status_code == 200
    denied = await api.post("/api/payment-terms", json={"code": "X1"}, headers=auth(desk))
    assert denied.status_code == 403


def test_invoice_dated_by_terms_and_settled_by_an_early_payment(engine: Engine) -> None:
    add_terms(engine, "NET14-2", 14, discount_percent="2", discount_days=7)
    customer = add_customer(engine, "Early Payer", payment_terms_code="NET14-2")
    number = issue_invoice(engine, customer, "100.00", qty=3)
    invoice = load_invoice(engine, number)
    assert invoice.terms_code == "NET14-2"
    assert invoice.due_at == invoice.issued_at + timedelta(days=14)
    assert invoice.discount_until == invoice.issued_at + timedelta(days=7)
    assert (invoice.total, invoice.discount_amount) == (Decimal("300.00"), Decimal("6.00"))

    pay(engine, number, "294.00", key="early")
    with session_scope(engine) as session:
        order = session.get(SalesOrder, invoice.order_id)
        assert order is not None
        assert invoice_service.still_due(session=session, order=order) == 0
        rows = invoice_service.payments(session=session, order_id=invoice.order_id)
        assert [(p.method, p.amount, p.reference) for p in rows] == [
            ("bank", Decimal("294.00"), None),
            (DISCOUNT_METHOD, Decimal("6.00"), number),
        ]
        assert standing(session=session, invoice=invoice).status == "paid"

        postings = accounting_service.journal(
            session=session,
            start=datetime.now(UTC).date() - timedelta(days=1),
            end=datetime.now(UTC).date() + timedelta(days=1),
            mapping=account_mapping.AccountMap(),
        )
    by_document: dict[str, list[accounting_service.Posting]] = defaultdict(list)
    for posting in postings:
        by_document[posting.document].append(posting)
    for rows_of in by_document.values():
        assert sum(p.debit for p in rows_of) == sum(p.credit for p in rows_of)
    assert sum(p.debit for p in postings) == sum(p.credit for p in postings) == Decimal("600.00")
    discount = [p for p in postings if p.document_type == "discount"]
    assert [(p.account, p.debit, p.credit) for p in discount] == [
        ("4400", Decimal("6.00"), Decimal("0.00")),
        ("1200", Decimal("0.00"), Decimal("6.00")),
    ]
    receivable = [p for p in postings if p.account == "1200"]
    assert sum(p.debit - p.credit for p in receivable) == 0  # nothing left owed


def test_no_discount_late_or_short(engine: Engine) -> None:
    add_terms(engine, "NET14-2", 14, discount_percent="2", discount_days=7)
    customer = add_customer(engine, "Late Payer", payment_terms_code="NET14-2")
    late = issue_invoice(engine, customer, "100.00", days_ago=8)
    pay(engine, late, "98.00")
    short = issue_invoice(engine, customer, "100.00")
    pay(engine, short, "90.00")  # within the window, but more than the discount still owed
    with session_scope(engine) as session:
        for number, owed in ((late, "2.00"), (short, "10.00")):
            invoice = invoice_service.get_by_number(session=session, number=number)
            assert invoice is not None
            rows = invoice_service.payments(session=session, order_id=invoice.order_id)
            assert DISCOUNT_METHOD not in [p.method for p in rows]
            assert standing(session=session, invoice=invoice).amount_due == Decimal(owed)


def test_lateness_counts_from_the_due_date(engine: Engine) -> None:
    add_terms(engine, "NET10", 10)
    customer = add_customer(engine, "Due Dates", payment_terms_code="NET10")
    fresh = issue_invoice(engine, customer, "50.00", days_ago=10)  # due today: open
    late = issue_invoice(engine, customer, "50.00", days_ago=11)  # due yesterday: overdue
    # Issued before due dates were kept: issue day + the customer's days (10).
    legacy = issue_invoice(engine, customer, "50.00", days_ago=12)
    with session_scope(engine) as session:
        old = invoice_service.get_by_number(session=session, number=legacy)
        assert old is not None
        old.due_at = None
        session.add(old)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        rows = session.exec(invoice_read.search(session, now=now, customer="Due Dates")).all()
        states = {row[0].number: row[3] for row in rows}
        assert states == {fresh: "open", late: "overdue", legacy: "overdue"}
        for number, expected in ((fresh, "open"), (late, "overdue"), (legacy, "overdue")):
            invoice = invoice_service.get_by_number(session=session, number=number)
            assert invoice is not None
            assert standing(session=session, invoice=invoice).status == expected


def test_dunning_counts_from_the_due_date(engine: Engine) -> None:
    add_terms(engine, "NET14", 14)
    customer = add_customer(engine, "Dunned", payment_terms_code="NET14")
    number = issue_invoice(engine, customer, "10.00")
    with session_scope(engine) as session:
        invoice = invoice_service.get_by_number(session=session, number=number)
        assert invoice is not None
        order = session.get(SalesOrder, invoice.order_id)
        assert order is not None
        day = 86400.0
        assert dunning_schedule(session, order, [7 * day, 14 * day]) == [21 * day, 28 * day]


def test_migration_turns_day_counts_into_templates(database_url: str) -> None:
    config = alembic_config(database_url)
    command.downgrade(config, "0032")
    engine = make_engine(database_url)
    try:
        customer = sa.table(
            "customer",
            *(sa.column(name) for name in ("name", "email", "group", "country")),
            sa.column("credit_limit"),
            sa.column("payment_terms_days"),
            sa.column("created_at", UTCDateTime()),
        )
        rows = [
            {"name": f"C{n}", "email": f"c{n}@example.com", "group": "retail", "country": "US"}
            | {"credit_limit": 0, "payment_terms_days": days, "created_at": datetime.now(UTC)}
            for n, days in enumerate((14, 30, 30))
        ]
        with engine.begin() as connection:
            connection.execute(sa.insert(customer), rows)
        command.upgrade(config, "heads")
        with engine.connect() as connection:
            terms = connection.execute(
                sa.text("SELECT code, net_days FROM paymentterms ORDER BY code")
            ).all()
            codes = connection.execute(
                sa.text("SELECT payment_terms_code FROM customer ORDER BY name")
            ).scalars()
            assert [tuple(t) for t in terms] == [("NET14", 14), ("NET30", 30)]
            assert list(codes) == ["NET14", "NET30", "NET30"]
    finally:
        engine.dispose()


async def test_an_order_on_discount_terms_from_invoice_to_paid(
    api: httpx.AsyncClient, worker, tmp_path: Path
) -> None:
    assert (await api.post("/api/payment-terms", json=NET14_2)).status_code == 201
    product = await create_product(api, on_hand=5, price="50.00")
    customer = await create_customer(api, payment_terms_code="NET14-2")
    order = await place_order(api, customer["id"], [(product["sku"], 2)], channel="sales_rep")
    number = order["number"]
    await wait_for_order(api, number, lambda o: o["current_step"] == "collection")
    invoice = (await api.get("/api/invoices", params={"order": number})).json()[0]
    issued = datetime.fromisoformat(invoice["issued_at"]).astimezone(UTC)
    total = Decimal(invoice["total"])
    discount = (total * Decimal("0.02")).quantize(Decimal("0.01"))
    assert Decimal(invoice["discount_amount"]) == discount > 0
    assert invoice["due_on"] == (issued + timedelta(days=14)).date().isoformat()
    until = datetime.fromisoformat(invoice["discount_until"]).date()
    assert until == (issued + timedelta(days=7)).date()
    assert invoice["terms"] == "NET14-2: 14 days net, 2% if paid within 7 days"

    pdf = await api.get(f"/api/invoices/{invoice['number']}/pdf")
    text = read_pdf(pdf.content, tmp_path)
    for expected in (
        f"Due: {invoice['due_on']} (14 days net)",
        "Terms: NET14-2: 14 days net, 2% if paid within 7 days",
        f"Early payment: pay {total - discount:.2f} USD by {until} (discount {discount:.2f})",
    ):
        assert expected in text, (expected, text)

    early = {"amount": str(total - discount)}
    paid = await api.post(f"/api/orders/{number}/payments", json=early)
    assert paid.status_code == 201, paid.text
    done = await wait_for_order(api, number, lambda o: o["status"] == "completed")
    assert done["status"] == "completed"
    again = read_pdf(
        (await api.get(f"/api/invoices/{invoice['number']}/pdf")).content, tmp_path, "2"
    )
    assert "Status: paid (due 0.00 USD)" in again
