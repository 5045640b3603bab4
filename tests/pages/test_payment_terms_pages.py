"""Payment terms on the pages: the settings pages (list, add with errors by field, edit,
retire after confirming), who may manage them, a customer's terms on their form, and the
invoice page's due date and early-payment discount for staff and the customer."""

import re
import uuid
from datetime import timedelta

import httpx
from sqlalchemy.engine import Engine

from tests.conftest import ADMIN_TOKEN
from tests.utils.api import create_employee
from tests.utils.pages import customer_client, open_customer_account, staff_client
from tests.utils.terms import add_customer, add_terms, issue_invoice, load_invoice

TERMS = {"code": "net14-2", "name": "Trade", "net_days": "14", "discount_percent": "2"}
TERMS |= {"discount_days": "7", "deposit_percent": ""}


async def test_settings_pages_add_edit_retire(api: httpx.AsyncClient) -> None:
    admin = await staff_client(api, ADMIN_TOKEN)
    try:
        home = await admin.get("/settings")
        assert 'href="/settings/payment-terms"' in home.text
        assert (await admin.get("/settings/payment-terms/new")).status_code == 200
        half = await admin.post("/settings/payment-terms", TERMS | {"discount_days": ""})
        assert half.status_code == 422 and "text/html" in half.headers["content-type"]
        assert "needs both its percent and its days" in half.text
        added = await admin.post("/settings/payment-terms", TERMS)
        assert added.status_code == 303, added.text
        assert added.headers["location"] == "/settings/payment-terms/NET14-2"
        again = await admin.post("/settings/payment-terms", TERMS)
        assert again.status_code == 422 and "already exist" in again.text

        listing = await admin.get("/settings/payment-terms")
        row = re.search(r'data-code="NET14-2">(.*?)</tr>', listing.text, re.S)
        assert row and "14 days net, 2% if paid within 7 days" in row.group(1)

        edited = {k: v for k, v in TERMS.items() if k != "code"} | {"net_days": "21"}
        saved = await admin.post("/settings/payment-terms/NET14-2", edited)
        assert saved.status_code == 303, saved.text
        page = await admin.get("/settings/payment-terms/NET14-2")
        assert "21 days net, 2% if paid within 7 days" in page.text
        assert "payment_terms.update" in page.text  # its audit history
        # Retiring asks for a confirmation first (a required checkbox).
        assert re.search(r'name="confirmed" value="yes" required', page.text)
        unticked = await admin.post("/settings/payment-terms/NET14-2/retire")
        assert unticked.status_code == 303  # back to the page, with the refusal as an alert
        back = await admin.get(unticked.headers["location"])
        assert "tick the confirmation" in back.text and 'data-testid="retired"' not in back.text
        retired = await admin.post("/settings/payment-terms/NET14-2/retire", {"confirmed": "yes"})
        assert retired.status_code == 303
        assert 'data-testid="retired"' in (await admin.get(retired.headers["location"])).text
        late = await admin.post("/settings/payment-terms/NET14-2", edited | {"net_days": "60"})
        assert late.status_code == 303  # a retired template is not edited: an alert says so
        back = await admin.get(late.headers["location"])
        assert "Not saved: payment terms NET14-2 are retired" in back.text
        assert "21 days net" in back.text and "60 days net" not in back.text
        gone = await admin.get("/settings/payment-terms")
        assert "NET14-2" not in gone.text
        assert "NET14-2" in (await admin.get("/settings/payment-terms?retired=yes")).text
    finally:
        await admin.aclose()

    desk = await create_employee(api, ["order_desk"], clearance=5)
    viewer = await staff_client(api, desk["token"])
    try:
        listing = await viewer.get("/settings/payment-terms")
        assert listing.status_code == 200 and 'data-testid="new-terms"' not in listing.text
        refused = await viewer.post("/settings/payment-terms", TERMS | {"code": "OTHER"})
        assert refused.status_code == 403
    finally:
        await viewer.aclose()


async def test_customer_form_takes_a_template(api: httpx.AsyncClient, engine: Engine) -> None:
    add_terms(engine, "NET45", 45)
    admin = await staff_client(api, ADMIN_TOKEN)
    try:
        form = {"name": "Termed", "email": f"t-{uuid.uuid4().hex[:8]}@example.com"}
        form |= {"group": "trade", "country": "DE", "credit_limit": "0.00"}
        form |= {"payment_terms_days": "30", "payment_terms_code": "NOPE", "account_rep_id": ""}
        unknown = await admin.post("/customers/new", form)
        assert unknown.status_code == 422 and "unknown payment terms NOPE" in unknown.text
        created = await admin.post("/customers/new", form | {"payment_terms_code": "net45"})
        assert created.status_code == 303, created.text
        customer_id = int(created.headers["location"].split("/")[2])
        stored = (await api.get(f"/api/customers/{customer_id}")).json()
        assert (stored["payment_terms_code"], stored["payment_terms_days"]) == ("NET45", 45)
        page = await admin.get(f"/customers/{customer_id}")
        terms = re.search(r'data-testid="customer-terms">(.*?)</p>', page.text, re.S)
        assert terms and "NET45" in terms.group(1) and "45 days net" in terms.group(1)
    finally:
        await admin.aclose()


async def test_invoice_page_shows_due_date_discount_and_deposit(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    add_terms(engine, "NET14-2", 14, discount_percent="2", discount_days=7, deposit_percent="25")
    customer_id = add_customer(engine, "Discounted", payment_terms_code="NET14-2")
    number = issue_invoice(engine, customer_id, "100.00")
    invoice = load_invoice(engine, number)
    due = (invoice.issued_at + timedelta(days=14)).date().isoformat()
    until = (invoice.issued_at + timedelta(days=7)).date().isoformat()
    admin = await staff_client(api, ADMIN_TOKEN)
    try:
        page = await admin.get(f"/invoices/{number}")
    finally:
        await admin.aclose()
    email = (await api.get(f"/api/customers/{customer_id}")).json()["email"]
    open_customer_account(engine, customer_id, "discount-pass")
    shopper = await customer_client(api, email, "discount-pass")
    try:
        own = await shopper.get(f"/customer/invoices/{number}")
    finally:
        await shopper.aclose()
    for html in (page.text, own.text):
        assert f"Due {due}</strong> (14 days net)" in html
        discount = re.search(r'data-testid="invoice-discount">(.*?)</span>', html, re.S)
        assert discount, html
        assert discount.group(1) == (f"Pay 98.00 USD by {until} (early-payment discount 2.00)")
        deposit = re.search(r'data-testid="invoice-deposit">(.*?)</span>', html)
        assert deposit and deposit.group(1) == "Deposit before fulfilment: 25.00 USD"
        assert "NET14-2: 14 days net, 2% if paid within 7 days, 25% deposit" in html
