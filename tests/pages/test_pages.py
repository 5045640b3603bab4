"""Pages without a browser: sign-in, CSRF, every page renders, access rules, actions."""

from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from temporalio.service import RPCError, RPCStatusCode

from tests.conftest import ADMIN_TOKEN, RULES, Mailbox
from tests.utils.api import (
    create_customer,
    create_employee,
    create_product,
    place_order,
    wait_for_open_task,
    wait_for_order,
)
from tests.utils.pages import (
    PageClient,
    choose_password,
    customer_client,
    open_customer_account,
    send_set_password_link,
    staff_client,
    wait_for_page,
)


@pytest.fixture
def rules_dir() -> Path:
    """Wholesale quotes, web order-desk tasks, phone tasks with a 1 s SLA."""
    return RULES / "pages"


async def test_sign_in_csrf_and_sign_out(api: httpx.AsyncClient) -> None:
    anonymous = PageClient(api)
    first = await anonymous.get("/inbox")
    assert first.status_code == 303 and first.headers["location"] == "/login?next=/inbox"
    assert (await anonymous.get("/")).headers["location"] == "/login"
    await anonymous.open()
    # A form without the session's CSRF token is refused, even with a valid token.
    forged = await anonymous.http.post("/login", data={"kind": "staff", "token": ADMIN_TOKEN})
    assert forged.status_code == 403
    wrong = await anonymous.post("/login", {"kind": "staff", "token": "not-a-token"})
    assert wrong.status_code == 401 and "does not belong" in wrong.text
    nobody = await anonymous.post(
        "/login", {"kind": "customer", "email": "x@example.com", "password": "whatever1"}
    )
    assert nobody.status_code == 401
    await anonymous.aclose()

    desk = await create_employee(api, ["order_desk"])
    staff = await staff_client(api, desk["token"])
    assert (await staff.get("/")).headers["location"] == "/inbox"
    # A forged cookie is an anonymous visitor.
    staff.http.cookies.set("conveyor_session", "eyJ4IjoxfQ.deadbeef")
    assert (await staff.get("/inbox")).status_code == 303
    await staff.aclose()

    staff = await staff_client(api, desk["token"])
    out = await staff.post("/logout")
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert (await staff.get("/inbox")).status_code == 303
    await staff.aclose()


async def test_every_staff_page_renders(api: httpx.AsyncClient, worker, mailbox: Mailbox) -> None:
    product = await create_product(api, on_hand=5, sku="PAGE-KB", price="89.50")
    customer = await create_customer(api, name="Page Test Ltd")
    order = await place_order(api, customer["id"], [(product["sku"], 2)], channel="sales_rep")
    await wait_for_order(api, order["number"], lambda o: o["current_step"] == "collection")
    admin = await staff_client(api, ADMIN_TOKEN)
    pages = {
        "/inbox": "Task inbox",
        "/inbox/tasks?scope=all": "task",
        "/monitor": "Workflow monitor",
        "/monitor/live": "Orders per step and state",
        "/monitor?q=Page+Test": order["number"],
        "/reports": "Orders, bookings and revenue per day",
        "/rules": "The file on disk: <code>rules.yaml</code>",
        "/rules?channel=web&lines=PAGE-KB+1": "web-desk",
        f"/orders/{order['number']}": "Processing trail",
    }
    for url, text in pages.items():
        page = await admin.get(url)
        assert page.status_code == 200, (url, page.text[:500])
        assert text in page.text, url
    order_page = (await admin.get(f"/orders/{order['number']}")).text
    assert "179.00" in order_page and "PAGE-KB" in order_page
    assert f"/namespaces/default/workflows/order-{order['number']}" in order_page
    csv = await admin.get("/reports/orders.csv?days=7")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == "day,orders,cancelled,open_quotes,currency,bookings,revenue"
    assert "179.00" in csv.text
    work = await admin.get("/reports/durations.csv")
    assert "stock_check" in work.text
    assert (await admin.get("/orders/NO-SUCH-1")).status_code == 404
    history = await admin.get(f"/customers/{customer['id']}")
    assert history.status_code == 200 and order["number"] in history.text
    assert (await admin.get("/customers/999999")).status_code == 404
    invoices = (await api.get(f"/api/invoices?order={order['number']}")).json()
    sheet = await admin.get(f"/invoices/{invoices[0]['number']}")
    assert sheet.status_code == 200 and f"/invoices/{invoices[0]['number']}.pdf" in sheet.text
    pdf = await admin.get(f"/invoices/{invoices[0]['number']}.pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert "Page Test Ltd" in sheet.text and "179.00" in sheet.text
    accountant = await create_employee(api, ["accountant"])
    books = await staff_client(api, accountant["token"])
    page = await books.get(f"/orders/{order['number']}")
    assert "Record a payment" in page.text and 'value="179.00"' in page.text
    bad = await books.post(f"/orders/{order['number']}/payments", {"amount": "lots"})
    assert bad.status_code == 303
    assert "Not recorded" in (await books.get(f"/orders/{order['number']}")).text
    payment = {"amount": "179.00", "method": "card", "key": "page-test-payment"}
    for _ in range(2):  # a double submit records it once
        paid = await books.post(f"/orders/{order['number']}/payments", payment)
        assert paid.status_code == 303
    done = await wait_for_order(api, order["number"], lambda o: o["status"] == "completed")
    assert done["totals"]["paid"] == "179.00"
    await books.aclose()
    link = await send_set_password_link(admin, mailbox, customer)
    await choose_password(api, link, "longenough")
    buyer = await customer_client(api, customer["email"], "longenough")
    mine = await buyer.get(f"/customer/invoices/{invoices[0]['number']}")
    assert mine.status_code == 200 and "179.00" in mine.text
    await buyer.aclose()
    assert (await admin.get("/static/vendor/htmx-2.0.11.min.js")).status_code == 200
    await admin.aclose()


async def test_customer_center_quote_support_and_access(
    api: httpx.AsyncClient, worker, engine: Engine
) -> None:
    product = await create_product(api, on_hand=10, price="250.00")
    mine = await create_customer(api, name="Wholesale Buyer", group="wholesale")
    other = await create_customer(api, name="Someone Else")
    quote = await place_order(api, mine["id"], [(product["sku"], 2)])
    foreign = await place_order(api, other["id"], [(product["sku"], 1)])
    await wait_for_open_task(api, quote["number"], "quote")
    open_customer_account(engine, mine["id"], "s3cret-pass")
    # Staff amend the quote before the customer sees it: 3 instead of 2, re-priced.
    admin = await staff_client(api, ADMIN_TOKEN)
    page = await admin.get(f"/orders/{quote['number']}")
    assert "Amend the lines" in page.text
    amended = await admin.post(f"/orders/{quote['number']}/amend", {"lines": f"{product['sku']} 3"})
    assert amended.status_code == 303
    await wait_for_order(api, quote["number"], lambda o: o["totals"]["total"] == "750.00")
    bad = await admin.post(f"/orders/{quote['number']}/amend", {"lines": "NO-SUCH-SKU 1"})
    assert "Not amended" in (await admin.get(f"/orders/{quote['number']}")).text
    assert bad.status_code == 303
    await admin.aclose()

    customer = await customer_client(api, mine["email"], "s3cret-pass")
    center = await customer.get("/customer")
    assert quote["number"] in center.text and foreign["number"] not in center.text
    # Someone else's order, by URL, on either page: not found.
    assert (await customer.get(f"/customer/orders/{foreign['number']}")).status_code == 404
    assert (await customer.get(f"/orders/{foreign['number']}")).status_code == 404
    assert (
        await customer.post(f"/customer/orders/{foreign['number']}/messages", {"body": "hi"})
    ).status_code == 404
    # Staff pages are not for customers.
    assert (await customer.get("/inbox")).headers["location"].startswith("/login")

    detail = await customer.get(f"/customer/orders/{quote['number']}")
    assert detail.status_code == 200 and "Accept quote" in detail.text
    assert "750.00" in detail.text
    accepted = await customer.post(
        f"/customer/orders/{quote['number']}/quote", {"decision": "accept"}
    )
    assert accepted.status_code == 303
    done = await wait_for_order(api, quote["number"], lambda o: o["status"] != "quote")
    assert [t["outcome"] for t in done["tasks"]] == ["approved"]

    for number in (quote["number"], foreign["number"]):
        await wait_for_order(api, number, lambda o: o["totals"]["invoiced"] != "0.00")
    theirs = (await api.get(f"/api/invoices?order={foreign['number']}")).json()
    ours = (await api.get(f"/api/invoices?order={quote['number']}")).json()
    assert (await customer.get(f"/customer/invoices/{ours[0]['number']}")).status_code == 200
    own_pdf = await customer.get(f"/customer/invoices/{ours[0]['number']}.pdf")
    assert own_pdf.status_code == 200 and own_pdf.content.startswith(b"%PDF")
    other_pdf = await customer.get(f"/customer/invoices/{theirs[0]['number']}.pdf")
    assert other_pdf.status_code == 404
    other_invoice = await customer.get(f"/customer/invoices/{theirs[0]['number']}")
    assert other_invoice.status_code == 404
    assert (await customer.get(f"/invoices/{ours[0]['number']}")).status_code == 303  # staff only

    refused = await customer.http.post(
        f"/customer/orders/{quote['number']}/messages", data={"body": "no token"}
    )
    assert refused.status_code == 403
    sent = await customer.post(
        f"/customer/orders/{quote['number']}/messages",
        {"body": "Can you deliver before Friday?"},
    )
    assert sent.status_code == 303
    await customer.aclose()

    desk = await create_employee(api, ["order_desk"], clearance=1)
    staff = await staff_client(api, desk["token"])
    page = await staff.get(f"/orders/{quote['number']}")
    assert "Can you deliver before Friday?" in page.text
    assert "accepted in the customer center" in page.text
    # Clearance 1 may read and answer, not modify.
    assert (
        await staff.post(f"/orders/{quote['number']}/cancel", {"reason": "x"})
    ).status_code == 403
    assert (
        await staff.post(f"/orders/{quote['number']}/activities", {"subject": "call"})
    ).status_code == 403
    answered = await staff.post(f"/orders/{quote['number']}/messages", {"body": "Yes, Thursday."})
    assert answered.status_code == 303
    await staff.aclose()

    senior = await create_employee(api, ["order_desk"], clearance=2)
    staff = await staff_client(api, senior["token"])
    added = await staff.post(
        f"/orders/{quote['number']}/activities",
        {"kind": "call", "subject": "Call the buyer on Friday", "due_at": "2030-01-04T10:00"},
    )
    assert added.status_code == 303
    page = await staff.get(f"/orders/{quote['number']}")
    assert "Call the buyer on Friday" in page.text and "Yes, Thursday." in page.text
    await staff.aclose()


async def test_inbox_clock_in_claim_complete_and_stuck_monitor(
    api: httpx.AsyncClient, worker
) -> None:
    product = await create_product(api, on_hand=10)
    customer = await create_customer(api)
    desk = await create_employee(api, ["order_desk"])
    staff = await staff_client(api, desk["token"])
    assert "Off duty" in (await staff.get("/inbox")).text
    clocked = await staff.post("/inbox/clock", {"action": "in"})
    assert clocked.status_code == 303
    inbox = await staff.get("/inbox")
    assert "On duty" in inbox.text and "Clocked in" in inbox.text  # the flash message

    web = await place_order(api, customer["id"], [(product["sku"], 1)], channel="web")
    listing = await wait_for_page(staff, "/inbox/tasks?scope=mine", web["number"])
    assert "Complete" in listing.text
    task = await wait_for_open_task(api, web["number"], "allocation")
    completed = await staff.post(
        f"/inbox/tasks/{task['id']}/complete",
        {"outcome": "approved", "note": "checked by phone"},
        headers={"HX-Request": "true"},
    )
    assert completed.status_code == 200 and completed.headers["HX-Trigger"] == "tasks-changed"
    await wait_for_order(api, web["number"], lambda o: o["current_step"] == "collection")
    page = await staff.get(f"/orders/{web['number']}")
    assert 'data-step="allocation" data-state="done"' in page.text
    assert 'data-step="collection" data-state="current"' in page.text

    # A phone order's pool task with a 1 s SLA: claimable, and soon stuck on the monitor.
    phone = await place_order(api, customer["id"], [(product["sku"], 1)], channel="phone")
    pooled = await wait_for_open_task(api, phone["number"], "allocation")
    hint = await staff.get("/inbox/tasks?scope=mine")
    assert "1 waiting in your role's pool" in hint.text
    assert (await staff.get("/monitor")).status_code == 403  # the monitor: supervisors
    manager = await staff_client(api, (await create_employee(api, ["supervisor"]))["token"])
    stuck = await wait_for_page(manager, "/monitor", f"/orders/{phone['number']}")
    assert "Stuck: past their SLA" in stuck.text
    await manager.aclose()
    assert f"workflows/order-{phone['number']}" in stuck.text
    claimed = await staff.post(f"/inbox/tasks/{pooled['id']}/claim")
    assert claimed.status_code == 303
    assert (await api.get(f"/api/tasks/{pooled['id']}")).json()["assignee_id"] == desk["id"]
    again = await staff.post(
        f"/inbox/tasks/{pooled['id']}/reassign", {"employee_id": ""}, headers={"HX-Request": "true"}
    )
    assert "supervisor" in again.text  # not a supervisor: refused, shown as a notice
    out = await staff.post("/inbox/clock", {"action": "out"})
    assert out.status_code == 303 and "Off duty" in (await staff.get("/inbox")).text
    await staff.aclose()


async def test_an_unreachable_temporal_is_a_503_page(api: httpx.AsyncClient) -> None:
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)])
    admin = await staff_client(api, ADMIN_TOKEN)
    state = api._transport.app.state.conveyor

    async def down() -> None:
        raise RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")

    state.temporal = down
    try:
        answer = await admin.post(
            f"/orders/{order['number']}/cancel", {"reason": "test", "confirmed": "yes"}
        )
    finally:
        del state.temporal
    assert answer.status_code == 503
    assert "cannot be reached right now" in answer.text
    await admin.aclose()
