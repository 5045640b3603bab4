"""The staff lists over HTTP: filters, sorting, paging, CSV export, refusals, record rules, and
the record pages' audit history and navigation."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import select

from conveyor.core.db import session_scope
from conveyor.invoice.models import Invoice
from conveyor.order.models import SalesOrder
from tests.conftest import ADMIN_TOKEN
from tests.utils.api import (
    auth,
    create_customer,
    create_employee,
    create_product,
    place_order,
    wait_for_order,
)
from tests.utils.pages import PageClient, staff_client

ROW = re.compile(r'data-testid="row" data-key="([^"]+)"')


def keys(page: httpx.Response) -> list[str]:
    """The record keys of a list page's rows, top to bottom."""
    assert page.status_code == 200, page.text
    return ROW.findall(page.text)


def csv_rows(answer: httpx.Response) -> list[dict[str, str]]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(answer.text)))


def current_nav(page: httpx.Response) -> list[str]:
    """The nav links marked as the current page."""
    return re.findall(r'<a href="(/[a-z]*)" aria-current="page"', page.text)


async def test_orders_list_filters_sorts_and_exports(api: httpx.AsyncClient) -> None:
    product = await create_product(api, price="10.00")
    alpha = await create_customer(api, name="=HYPERLINK(1) Alpha")
    beta = await create_customer(api, name="Beta Lists Ltd")
    small = await place_order(api, alpha["id"], [(product["sku"], 1)], channel="phone")
    large = await place_order(api, beta["id"], [(product["sku"], 5)], channel="sales_rep")
    mine = f"&customer={alpha['id']}"  # the other tests' orders share the database
    both = [large["number"], small["number"]]  # newest first by default
    admin = await staff_client(api, ADMIN_TOKEN)

    page = await admin.get("/orders?customer=Lists+Ltd")
    assert keys(page) == [large["number"]]
    assert current_nav(page) == ["/orders"]
    assert 'href="/orders/new"' in page.text and f'href="/orders/{large["number"]}"' in page.text
    ours = f"number=&customer={alpha['id']}"
    assert keys(await admin.get(f"/orders?{ours}&channel=phone")) == [small["number"]]
    assert keys(await admin.get(f"/orders?{ours}&channel=sales_rep")) == []
    for name in (alpha["id"], beta["id"]):
        assert len(keys(await admin.get(f"/orders?customer={name}"))) == 1
    today = datetime.now(UTC).date()
    tomorrow = today + timedelta(days=1)
    assert keys(await admin.get(f"/orders?since={tomorrow}{mine}")) == []
    assert keys(await admin.get(f"/orders?since={today}&until={today}{mine}")) == [small["number"]]
    assert keys(await admin.get(f"/orders?until={today - timedelta(days=1)}{mine}")) == []
    assert keys(await admin.get(f"/orders?number={small['number']}")) == [small["number"]]

    # Sorting by the clicked column, both ways; the header link flips the direction.
    numbers = "number=&customer=Lists+Ltd"
    await place_order(api, beta["id"], [(product["sku"], 2)], channel="phone")
    by_total = keys(await admin.get(f"/orders?{numbers}&sort=total&dir=asc"))
    assert len(by_total) == 2 and by_total[-1] == large["number"]
    assert keys(await admin.get(f"/orders?{numbers}&sort=total&dir=desc"))[0] == large["number"]
    sorted_page = await admin.get(f"/orders?{numbers}&sort=total&dir=asc")
    assert 'aria-sort="ascending"' in sorted_page.text
    assert "sort=total&amp;dir=desc" in sorted_page.text

    # Bad values: the page still answers, says what it ignored and uses the defaults.
    bad = await admin.get(
        f"/orders?status=bogus&step=nowhere&sort=nope&dir=up&page=-3&since=2026-13-45{mine}"
    )
    assert bad.status_code == 200 and "text/html" in bad.headers["content-type"]
    assert keys(bad) == [small["number"]]
    assert 'data-testid="list-notes"' in bad.text
    for word in ("bogus", "nowhere", "nope", "up", "-3", "2026-13-45"):
        assert f"“{word}”" in bad.text, word
    assert (await admin.get(f"/orders?page=999{mine}")).status_code == 200
    assert keys(await admin.get(f"/orders?status={'x' * 5000}{mine}")) == [small["number"]]

    # The export holds the same filtered rows, every one (not just the page), formula-safe.
    exported = csv_rows(await admin.get(f"/orders.csv?channel=phone{mine}"))
    assert [row["number"] for row in exported] == [small["number"]]
    assert exported[0]["customer"] == "'=HYPERLINK(1) Alpha"
    assert exported[0]["total"] == "10.00" and exported[0]["channel"] == "phone"
    everything = csv_rows(await admin.get("/orders.csv?customer=Lists+Ltd&sort=total&dir=desc"))
    assert [row["number"] for row in everything][0] == large["number"] and len(everything) == 2
    assert set(both) <= {row["number"] for row in csv_rows(await admin.get("/orders.csv"))}
    await admin.aclose()


async def test_a_sales_rep_sees_only_the_customers_they_own(api: httpx.AsyncClient) -> None:
    rep = await create_employee(api, ["sales"], clearance=1)
    other_rep = await create_employee(api, ["sales"], clearance=1)
    product = await create_product(api)
    owned = await create_customer(api, name="Owned Account", account_rep_id=rep["id"])
    foreign = await create_customer(api, name="Foreign Account", account_rep_id=other_rep["id"])
    mine = await place_order(api, owned["id"], [(product["sku"], 1)], channel="sales_rep")
    theirs = await place_order(api, foreign["id"], [(product["sku"], 1)], channel="sales_rep")
    client = await staff_client(api, rep["token"])

    assert keys(await client.get("/customers")) == [str(owned["id"])]
    assert [r["id"] for r in csv_rows(await client.get("/customers.csv"))] == [str(owned["id"])]
    assert keys(await client.get("/orders")) == [mine["number"]]
    assert [r["number"] for r in csv_rows(await client.get("/orders.csv"))] == [mine["number"]]
    # Filtering for someone else's customer finds nothing; the record pages are 404.
    assert keys(await client.get(f"/orders?customer={foreign['id']}")) == []
    assert (await client.get(f"/customers/{foreign['id']}")).status_code == 404
    assert (await client.get(f"/orders/{theirs['number']}")).status_code == 404
    # A rep places orders; below clearance 2 they add no customers; they see no invoices list.
    page = await client.get("/orders")
    assert 'href="/orders/new"' in page.text
    assert 'href="/customers/new"' not in (await client.get("/customers")).text
    refused = await client.get("/invoices")
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
    assert (await client.get("/invoices.csv")).status_code == 403
    await client.aclose()

    # The admin (and anyone at the all-accounts clearance) sees both.
    admin = await staff_client(api, ADMIN_TOKEN)
    found = keys(await admin.get("/customers?name=Account&sort=name&dir=asc"))
    assert found[:2] == [str(foreign["id"]), str(owned["id"])]
    assert keys(await admin.get("/customers?name=Account&sort=name&dir=desc"))[-1] == str(
        foreign["id"]
    )
    await admin.aclose()


async def test_customers_list_filters(api: httpx.AsyncClient) -> None:
    tag = "zqx"
    trade = await create_customer(
        api, name=f"Trade {tag}", group="wholesale", email=f"buyer-{tag}@trade.example"
    )
    shop = await create_customer(api, name=f"Shop {tag}", group="retail")
    admin = await staff_client(api, ADMIN_TOKEN)
    page = await admin.get(f"/customers?name={tag}")
    assert sorted(keys(page)) == sorted([str(trade["id"]), str(shop["id"])])
    assert current_nav(page) == ["/customers"]
    assert 'href="/customers/new"' in page.text
    assert keys(await admin.get(f"/customers?name={tag}&group=wholesale")) == [str(trade["id"])]
    assert keys(await admin.get(f"/customers?email=BUYER-{tag}")) == [str(trade["id"])]
    bad = await admin.get(f"/customers?name={tag}&group=nobody")
    assert "“nobody”" in bad.text and len(keys(bad)) == 2
    exported = csv_rows(await admin.get(f"/customers.csv?name={tag}&group=retail"))
    assert [(r["name"], r["group"]) for r in exported] == [(f"Shop {tag}", "retail")]

    # The customer page: its own nav entry and audit history (the admin may read the log).
    record = await admin.get(f"/customers/{trade['id']}")
    assert record.status_code == 200 and current_nav(record) == ["/customers"]
    assert 'data-testid="audit-history"' in record.text
    assert 'data-action="customer.create"' in record.text
    await admin.aclose()


async def test_products_list_and_record_page(api: httpx.AsyncClient) -> None:
    suffix = "LST"
    keyboard = await create_product(
        api, sku=f"KB-{suffix}", price="25.00", on_hand=7, tags=["desk", "kb"], tax_class="reduced"
    )
    mouse = await create_product(
        api, sku=f"MS-{suffix}", price="15.00", on_hand=2, tags=["desk"], options=[keyboard["sku"]]
    )
    admin = await staff_client(api, ADMIN_TOKEN)
    page = await admin.get(f"/products?sku={suffix}")
    assert keys(page) == [keyboard["sku"], mouse["sku"]]
    assert current_nav(page) == ["/products"]
    assert 'href="/stock"' in page.text and 'href="/products/new"' in page.text
    assert keys(await admin.get(f"/products?sku={suffix}&tag=kb")) == [keyboard["sku"]]
    assert keys(await admin.get(f"/products?sku={suffix}&tag=k")) == []  # whole tags only
    assert keys(await admin.get(f"/products?sku={suffix}&tag=desk&sort=available&dir=asc")) == [
        mouse["sku"],
        keyboard["sku"],
    ]
    assert (
        keys(await admin.get(f"/products?sku={suffix}&sort=price&dir=desc"))[0] == keyboard["sku"]
    )
    exported = csv_rows(await admin.get(f"/products.csv?sku={suffix}&tag=kb"))
    assert exported == [
        {
            "sku": keyboard["sku"],
            "name": "Test product",
            "price": "25.00",
            "currency": "USD",
            "tags": "desk;kb",
            "tax_class": "reduced",
            "drop_ship": "no",
            "drop_ship_allowed": "no",
            "supplier_email": "",
            "kind": "goods",
            "on_hand": "7",
            "committed": "0",
            "available": "7",
        }
    ]

    record = await admin.get(f"/products/{mouse['sku']}")
    assert record.status_code == 200 and current_nav(record) == ["/products"]
    assert "15.00 USD" in record.text and f'href="/products/{keyboard["sku"]}"' in record.text
    assert f'href="/products/{mouse["sku"]}/edit"' in record.text
    stock = re.search(r'data-testid="product-stock">(.*?)</table>', record.text, re.S)
    assert stock is not None and re.search(r"<td>MAIN</td>.*?>2</td>", stock.group(1), re.S)
    assert 'data-action="product.create"' in record.text
    missing = await admin.get("/products/NO-SUCH-SKU")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
    await admin.aclose()

    # Anyone on the staff sees products, without the edit or new buttons or the audit history.
    clerk = await create_employee(api, ["warehouse"])
    client = await staff_client(api, clerk["token"])
    page = await client.get(f"/products/{mouse['sku']}")
    assert page.status_code == 200 and "/edit" not in page.text
    assert 'data-testid="audit-history"' not in page.text
    assert 'href="/products/new"' not in (await client.get("/products")).text
    # The warehouse views orders but places none and sees no customers.
    assert 'href="/orders/new"' not in (await client.get("/orders")).text
    refused = await client.get("/customers?name=x")
    assert refused.status_code == 403 and "customers.view" in refused.text
    await client.aclose()


def _backdate_invoice(engine: Engine, order_number: str, days: int) -> str:
    """Move the order's invoice's issue date (and the due date set from it) back (the clock
    is the outside world here)."""
    with session_scope(engine) as session:
        order = session.exec(select(SalesOrder).where(SalesOrder.number == order_number)).one()
        invoice = session.exec(select(Invoice).where(Invoice.order_id == order.id)).one()
        issued_at = datetime.now(UTC) - timedelta(days=days)
        if invoice.due_at is not None:
            invoice.due_at += issued_at - invoice.issued_at
        invoice.issued_at = issued_at
        session.add(invoice)
        return invoice.number


async def _invoiced(api: httpx.AsyncClient, customer_id: int, sku: str, **extra) -> dict:
    order = await place_order(api, customer_id, [(sku, 1)], channel="sales_rep", **extra)
    done = await wait_for_order(api, order["number"], lambda o: o["totals"]["invoiced"] != "0.00")
    return done


async def test_invoices_and_returns_lists(api: httpx.AsyncClient, worker, engine: Engine) -> None:
    product = await create_product(api, price="40.00", on_hand=20)
    customer = await create_customer(api, name="Invoice Lists Co", payment_terms_days=30)
    prepaid = await _invoiced(api, customer["id"], product["sku"], prepaid=True)
    owing = await _invoiced(api, customer["id"], product["sku"])
    late = await _invoiced(api, customer["id"], product["sku"])
    late_invoice = _backdate_invoice(engine, late["number"], 45)
    await wait_for_order(api, prepaid["number"], lambda o: o["status"] == "completed")
    admin = await staff_client(api, ADMIN_TOKEN)

    listed = await admin.get("/invoices?customer=Invoice+Lists")
    assert len(keys(listed)) == 3 and current_nav(listed) == ["/invoices"]
    everything = csv_rows(await admin.get("/invoices.csv?customer=Invoice+Lists"))
    numbers = {row["order"]: row["number"] for row in everything}

    def invoice_of(order: dict) -> str:
        return numbers[order["number"]]

    states = {row["order"]: row["status"] for row in everything}
    assert states == {prepaid["number"]: "paid", owing["number"]: "open", late["number"]: "overdue"}
    assert invoice_of(late) == late_invoice
    for state, order in (("paid", prepaid), ("open", owing), ("overdue", late)):
        found = await admin.get(f"/invoices?customer=Invoice+Lists&status={state}")
        assert keys(found) == [invoice_of(order)], state
    bad = await admin.get("/invoices?customer=Invoice+Lists&status=settled")
    assert "“settled”" in bad.text and len(keys(bad)) == 3
    by_number = keys(await admin.get("/invoices?customer=Invoice+Lists&sort=number&dir=asc"))
    assert by_number == [invoice_of(prepaid), invoice_of(owing), invoice_of(late)]
    by_state = keys(await admin.get("/invoices?customer=Invoice+Lists&sort=status&dir=asc"))
    assert by_state == [invoice_of(owing), invoice_of(late), invoice_of(prepaid)]
    due = {row["order"]: row["due"] for row in everything}
    assert due[late["number"]] == str((datetime.now(UTC) - timedelta(days=15)).date())

    # Paying the open one moves it to paid.
    paid = await api.post(f"/api/orders/{owing['number']}/payments", json={"amount": "40.00"})
    assert paid.status_code == 201, paid.text
    now_paid = await admin.get("/invoices?customer=Invoice+Lists&status=paid")
    assert sorted(keys(now_paid)) == sorted([invoice_of(prepaid), invoice_of(owing)])

    # The invoice page: its nav entry and its audit history (the payment recorded on its order).
    record = await admin.get(f"/invoices/{invoice_of(owing)}")
    assert record.status_code == 200 and current_nav(record) == ["/invoices"]
    history = record.text.split('data-testid="audit-history"')[1]
    assert 'data-action="order.payment"' in history and 'data-action="order.create"' not in history
    # The order page names Orders in the nav (not Monitor) and keeps its audit trail.
    order_page = await admin.get(f"/orders/{owing['number']}")
    assert current_nav(order_page) == ["/orders"] and 'data-testid="order-audit"' in order_page.text

    # Returns: authorised on the completed order, filtered by status, exported.
    desk = await create_employee(api, ["order_desk"])
    created = await api.post(
        f"/api/orders/{prepaid['number']}/returns",
        json={"lines": [{"sku": product["sku"], "qty": 1}], "reason": "=cmd|' /C calc'!A0"},
        headers=auth(desk),
    )
    assert created.status_code == 201, created.text
    rma = created.json()["number"]
    ours = f"customer={customer['id']}"
    page = await admin.get(f"/returns?{ours}")
    assert keys(page) == [rma] and current_nav(page) == ["/returns"]
    assert keys(await admin.get(f"/returns?{ours}&status=authorised")) == [rma]
    assert keys(await admin.get(f"/returns?{ours}&status=received")) == []
    assert keys(await admin.get(f"/returns?order={prepaid['number']}")) == [rma]
    assert "“lost”" in (await admin.get(f"/returns?{ours}&status=lost")).text
    exported = csv_rows(await admin.get(f"/returns.csv?{ours}"))
    assert [(r["number"], r["order"], r["status"]) for r in exported] == [
        (rma, prepaid["number"], "authorised")
    ]
    await admin.aclose()

    # Refusals: the returns and invoices lists need their permissions.
    rep = await create_employee(api, ["sales"], clearance=3)
    client = await staff_client(api, rep["token"])
    for url in ("/returns", "/returns.csv", "/invoices"):
        assert (await client.get(url)).status_code == 403, url
    await client.aclose()


async def test_signed_out_visitors_go_to_sign_in(api: httpx.AsyncClient) -> None:
    anonymous = PageClient(api)
    for url in ("/orders", "/customers.csv", "/products/X", "/invoices", "/returns"):
        answer = await anonymous.get(url)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), url
    await anonymous.aclose()
