"""Receivables: the ageing report (JSON, CSV, page) by days past due, and customer statements
(PDF) for staff and, their own only, for customers in the customer center."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine

from conveyor.core.db import session_scope
from conveyor.invoice import service as invoice_service
from tests.conftest import ADMIN_TOKEN
from tests.utils.api import auth, create_employee
from tests.utils.pages import customer_client, open_customer_account, staff_client
from tests.utils.pdf import read_pdf
from tests.utils.terms import add_customer, add_terms, issue_invoice, pay

ALPHA, BETA = "Ageing Alpha", "Ageing Beta"


def _books(engine: Engine) -> dict[str, object]:
    """Alpha (NET30) with an invoice in every bucket, one part paid, one paid, one credited;
    Beta (0 days net, no template) with invoices on the 1-30 / 31-60 boundary."""
    add_terms(engine, "NET30", 30)
    alpha = add_customer(engine, ALPHA, payment_terms_code="NET30")
    beta = add_customer(engine, BETA, payment_terms_days=0)
    numbers = {
        "current": issue_invoice(engine, alpha, "100.00", days_ago=5),  # due in 25 days
        "1-30": issue_invoice(engine, alpha, "200.00", days_ago=40),  # 10 days past due
        "31-60": issue_invoice(engine, alpha, "300.00", days_ago=75),  # 45 past, 50 paid
        "61-90": issue_invoice(engine, alpha, "400.00", days_ago=100),  # 70 past
        "90+": issue_invoice(engine, alpha, "500.00", days_ago=150),  # 120 past
        "paid": issue_invoice(engine, alpha, "60.00", days_ago=50),
        "credited": issue_invoice(engine, alpha, "80.00", days_ago=20),
    }
    pay(engine, numbers["31-60"], "50.00")
    pay(engine, numbers["paid"], "60.00")
    with session_scope(engine) as session:
        credited = invoice_service.get_by_number(session=session, number=numbers["credited"])
        assert credited is not None
        invoice_service.create_credit_note(session=session, key="cn", invoice=credited)
    issue_invoice(engine, beta, "30.00", days_ago=30)  # 30 days past: 1-30
    issue_invoice(engine, beta, "31.00", days_ago=31)  # 31 days past: 31-60
    return {"alpha": alpha, "beta": beta, **numbers}


async def test_ageing_json_csv_and_page(api: httpx.AsyncClient, engine: Engine) -> None:
    books = _books(engine)
    answer = await api.get("/api/receivables/ageing")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    keys = ("current", "days_1_30", "days_31_60", "days_61_90", "days_over_90", "total")
    rows = {r["customer"]: [r[k] for k in keys] for r in body["data"]}
    assert rows == {
        ALPHA: ["100.00", "200.00", "250.00", "400.00", "500.00", "1450.00"],
        BETA: ["0.00", "30.00", "31.00", "0.00", "0.00", "61.00"],
    }
    assert body["count"] == 2 and body["data"][0]["customer_id"] == books["alpha"]
    totals = body["totals"]
    assert [t["currency"] for t in totals] == ["USD"]
    assert [totals[0][k] for k in keys] == [
        "100.00",
        "230.00",
        "281.00",
        "400.00",
        "500.00",
        "1511.00",
    ]

    exported = await api.get("/api/receivables/ageing.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(exported.text)))
    assert table[0] == ["customer_id", "customer", "currency", "current", "1-30", "31-60"] + [
        "61-90",
        "90+",
        "total",
    ]
    assert table[1][1:] == [ALPHA, "USD", "100.00", "200.00", "250.00", "400.00", "500.00"] + [
        "1450.00"
    ]
    assert table[-1][1:] == ["total", "USD", "100.00", "230.00", "281.00", "400.00", "500.00"] + [
        "1511.00"
    ]

    # Receivables are for who sees invoices: not the warehouse.
    walter = await create_employee(api, ["warehouse"], clearance=5)
    assert (await api.get("/api/receivables/ageing", headers=auth(walter))).status_code == 403

    staff = await staff_client(api, ADMIN_TOKEN)
    try:
        page = await staff.get("/receivables/ageing")
        assert page.status_code == 200
        alpha_row = re.search(
            r'data-testid="ageing-row" data-customer="\d+">(.*?)</tr>', page.text, re.S
        )
        assert alpha_row and ALPHA in alpha_row.group(1)
        for amount in ("100.00", "200.00", "250.00", "400.00", "500.00", "1,450.00"):
            assert amount in alpha_row.group(1), amount
        assert 'data-testid="ageing-total" data-currency="USD"' in page.text
        assert "1,511.00" in page.text
        page_csv = await staff.get("/receivables/ageing.csv")
        assert page_csv.text == exported.text
        listing = await staff.get("/invoices")
        assert 'href="/receivables/ageing"' in listing.text
        async with httpx.AsyncClient(transport=api._transport, base_url=api.base_url) as anon:
            bare = await anon.get("/receivables/ageing")
        assert bare.status_code in (302, 303, 307)  # signed out: to the sign-in page
    finally:
        await staff.aclose()


async def test_statement_pdf_for_staff_and_for_the_customer_only(
    api: httpx.AsyncClient, engine: Engine, tmp_path: Path
) -> None:
    books = _books(engine)
    today = datetime.now(UTC).date()
    start = (today - timedelta(days=45)).isoformat()
    period = {"from": start, "to": today.isoformat()}
    answer = await api.get(f"/api/receivables/statements/{books['alpha']}.pdf", params=period)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    text = read_pdf(answer.content, tmp_path, "api")
    for expected in (
        f"Statement of account {ALPHA}",
        f"Period: {start} to {today.isoformat()}",
        "Opening balance: 1260.00 USD",  # the four invoices issued before the period
        books["current"],
        books["1-30"],
        books["credited"],
        "credit note",
        "payment",
        "current: 100.00, 1-30: 200.00, 31-60: 250.00, 61-90: 400.00, 90+: 500.00",
    ):
        assert expected in text, (expected, text)
    assert re.search(r"Closing balance\s+1450.00 USD", text), text
    for before in ("31-60", "61-90", "90+", "paid"):
        assert str(books[before]) not in text  # issued before the period: in the opening
    backwards = {"from": today.isoformat(), "to": start}
    refused = await api.get(f"/api/receivables/statements/{books['alpha']}.pdf", params=backwards)
    assert refused.status_code == 422
    missing = await api.get("/api/receivables/statements/999999.pdf")
    assert missing.status_code == 404

    staff = await staff_client(api, ADMIN_TOKEN)
    try:
        page = await staff.get(f"/customers/{books['alpha']}")
        assert 'data-testid="statement-form"' in page.text
        assert "Payment terms:" in page.text and "30 days net" in page.text
        staff_pdf = await staff.get(f"/customers/{books['alpha']}/statement.pdf", params=period)
        assert staff_pdf.status_code == 200
        assert "Closing balance" in read_pdf(staff_pdf.content, tmp_path, "staff")
        bad = await staff.get(f"/customers/{books['alpha']}/statement.pdf", params=backwards)
        assert bad.status_code == 422 and "ends before it starts" in bad.text
    finally:
        await staff.aclose()

    customer = await api.get(f"/api/customers/{books['beta']}")
    open_customer_account(engine, int(str(books["beta"])), "beta-statement-pass")
    shopper = await customer_client(api, customer.json()["email"], "beta-statement-pass")
    try:
        center = await shopper.get("/customer")
        assert "Your payment terms: payment in advance." in center.text
        assert 'action="/customer/statement.pdf"' in center.text
        own = await shopper.get("/customer/statement.pdf")
        assert own.status_code == 200
        mine = read_pdf(own.content, tmp_path, "customer")
        assert f"Statement of account {BETA}" in mine and ALPHA not in mine
        assert re.search(r"Closing balance\s+61.00 USD", mine), mine
        # Staff addresses are not the customer's: someone else's statement is out of reach.
        other = await shopper.get(f"/customers/{books['alpha']}/statement.pdf")
        assert other.status_code in (302, 303, 403)
    finally:
        await shopper.aclose()


async def test_statement_has_a_page_per_currency(
    api: httpx.AsyncClient, engine: Engine, tmp_path: Path
) -> None:
    """A customer invoiced in dollars and in euros: each currency balances on its own page."""
    both = add_customer(engine, "Two Currencies", payment_terms_days=30)
    dollars = issue_invoice(engine, both, "120.00", days_ago=3)
    euros = issue_invoice(engine, both, "75.50", days_ago=2, currency="EUR")
    pay(engine, euros, "25.50")
    answer = await api.get(f"/api/receivables/statements/{both}.pdf")
    assert answer.status_code == 200, answer.text
    text = read_pdf(answer.content, tmp_path, "currencies")
    assert dollars in text and euros in text
    assert "Currency: EUR" in text and "Currency: USD" in text
    assert text.index("Currency: EUR") < text.index("Currency: USD")  # the latest invoice's first
    assert re.search(r"Closing balance\s+50.00 EUR", text), text
    assert re.search(r"Closing balance\s+120.00 USD", text), text
