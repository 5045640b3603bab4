"""Order and quote entry over HTTP: the customer search, the form with the customer's prices (and
the agreement that set them), stock per warehouse and options, refusals that write nothing,
placing an order, saving an explicit quote (its PDF, its mail with the PDF), revising it."""

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from conveyor.audit.models import AuditEntry
from conveyor.order.models import SalesOrder
from tests.conftest import Mailbox
from tests.utils.api import (
    create_customer,
    create_employee,
    create_product,
    wait_for_open_task,
    wait_for_order,
)
from tests.utils.pages import PageClient, customer_client, open_customer_account, staff_client
from tests.utils.pdf import read_pdf

NUMBER = re.compile(r"/orders/([^/?]+)$")


def _days(n: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=n)).isoformat()


async def _agreement(api: httpx.AsyncClient, **body) -> dict:
    made = await api.post("/api/price-agreements", json=body)
    assert made.status_code == 201, made.text
    return made.json()


def _orders_of(engine: Engine, customer_id: int) -> list[SalesOrder]:
    with Session(engine) as session:
        return list(session.exec(select(SalesOrder).where(SalesOrder.customer_id == customer_id)))


async def _rep(api: httpx.AsyncClient, clearance: int = 3) -> PageClient:
    """A signed-in sales rep who may set charges (orders.terms) and sees every account."""
    return await staff_client(api, (await create_employee(api, ["sales"], clearance))["token"])


async def test_customer_search_form_and_refusals(api: httpx.AsyncClient) -> None:
    customer = await create_customer(api, name="Ωμέγα Εμπορική")
    rep = await _rep(api)
    start = await rep.get("/orders/new")
    assert start.status_code == 200 and 'name="customer_q"' in start.text
    found = await rep.get("/orders/new", params={"customer_q": "Ωμέγα"})
    assert f'href="/orders/new?customer_id={customer["id"]}"' in found.text
    by_mail = await rep.get("/orders/new", params={"customer_q": customer["email"][:10]})
    assert f'data-customer="{customer["id"]}"' in by_mail.text
    nobody = await rep.get("/orders/new", params={"customer_q": "no such buyer at all"})
    assert "No customer matches" in nobody.text
    form = await rep.get(f"/orders/new?customer_id={customer['id']}")
    assert form.status_code == 200 and "New order for Ωμέγα Εμπορική" in form.text
    assert 'data-testid="place-order"' in form.text and 'data-testid="save-quote"' in form.text
    assert (await rep.get("/orders/new?customer_id=999999")).status_code == 404
    await rep.aclose()

    # Placing orders is for the order desk and sales: the warehouse gets the 403 page.
    warehouse = await staff_client(api, (await create_employee(api, ["warehouse"]))["token"])
    refused = await warehouse.get(f"/orders/new?customer_id={customer['id']}")
    assert refused.status_code == 403 and "orders.place" in refused.text
    assert (await warehouse.post(f"/orders/new?customer_id={customer['id']}")).status_code == 403
    await warehouse.aclose()

    # A rep below the all-accounts clearance finds and enters orders for their own accounts only.
    junior = await create_employee(api, ["sales"], clearance=2)
    own = await create_customer(api, name="Ωμέγα Own", account_rep_id=junior["id"])
    client = await staff_client(api, junior["token"])
    listed = await client.get("/orders/new", params={"customer_q": "Ωμέγα"})
    assert f'data-customer="{own["id"]}"' in listed.text
    assert f'data-customer="{customer["id"]}"' not in listed.text
    assert (await client.get(f"/orders/new?customer_id={customer['id']}")).status_code == 404
    await client.aclose()


async def test_preview_shows_the_agreement_price_availability_and_options(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    printer = await create_product(api, on_hand=4, price="50.00", name="Desk printer")
    laptop = await create_product(
        api, on_hand=7, price="1000.00", name="Laptop 14", options=[printer["sku"]]
    )
    customer = await create_customer(api, name="Agreement Buyer")
    deal = await _agreement(
        api,
        name="Key account",
        sku=laptop["sku"],
        customer_id=customer["id"],
        discount_percent="10",
    )
    rep = await _rep(api)
    url = f"/orders/new?customer_id={customer['id']}"

    # Found by name, added with the Add button: the customer's price and the rule behind it.
    found = await rep.post(url, {"action": "find", "find": "Laptop 14", "sku-0": "", "qty-0": ""})
    assert found.status_code == 200 and f'value="{laptop["sku"]}">Add' in found.text
    assert f"agreement {deal['id']}: Key account" in found.text
    added = await rep.post(url, {"add": laptop["sku"], "sku-0": "", "qty-0": ""})
    line = added.text[added.text.index('data-testid="line"') :]
    assert f'name="sku-0" value="{laptop["sku"]}"' in line
    assert "900.00 USD" in line and f"agreement {deal['id']}: Key account" in line
    assert "MAIN: 7 available (7 on hand)" in line
    assert f'name="options-0" value="{printer["sku"]}"' in line  # offered for upselling

    # A name that matches one product is resolved to its SKU; the ticked option is priced.
    ticked = await rep.post(
        url, {"action": "preview", "sku-0": "Laptop 14", "qty-0": "2", "options-0": printer["sku"]}
    )
    assert ticked.status_code == 200, ticked.text
    assert f'name="sku-0" value="{laptop["sku"]}"' in ticked.text
    assert "1,800.00" in ticked.text and "= 100.00" in ticked.text
    assert 'data-testid="entry-total">1,900.00 USD' in ticked.text
    assert not _orders_of(engine, customer["id"])  # a preview writes nothing
    await rep.aclose()


async def test_bad_input_comes_back_with_messages_and_writes_nothing(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    product = await create_product(api, on_hand=3, price="5.00")
    customer = await create_customer(api)
    rep = await _rep(api)
    url = f"/orders/new?customer_id={customer['id']}"
    typed = {"customer_po": "PO-KEPT-1", "sku-1": product["sku"], "qty-1": "2"}
    for lines, message in (
        ({"sku-0": "NO-SUCH-SKU-X", "qty-0": "1"}, "unknown SKU: NO-SUCH-SKU-X"),
        ({"sku-0": product["sku"], "qty-0": "0"}, "between 1 and 100,000"),
        ({"sku-0": product["sku"], "qty-0": "two"}, "whole number"),
    ):
        for action in ("place", "quote"):
            answer = await rep.post(url, {"action": action, **typed, **lines})
            assert answer.status_code == 422, (lines, answer.text)
            assert message in answer.text and 'data-testid="error-line-0"' in answer.text
            assert 'value="PO-KEPT-1"' in answer.text  # what was typed stays
            assert f'name="sku-1" value="{product["sku"]}"' in answer.text
    empty = await rep.post(url, {"action": "place", "sku-0": "", "qty-0": ""})
    assert empty.status_code == 422 and "add at least one line" in empty.text
    dates = {"sku-0": product["sku"], "qty-0": "1", "requested_delivery_date": "2001-01-01"}
    past = await rep.post(url, {"action": "place", **dates})
    assert past.status_code == 422 and 'data-testid="error-requested_delivery_date"' in past.text
    late = {"sku-0": product["sku"], "qty-0": "1", "quote_valid_until": _days(900)}
    assert "at most 366 days" in (await rep.post(url, {"action": "quote", **late})).text
    bad_address = {"sku-0": product["sku"], "qty-0": "1", "ship_to_address": "other"}
    address = await rep.post(url, {"action": "place", **bad_address, "ship_to_city": "Leith"})
    assert address.status_code == 422 and 'data-testid="error-ship_to"' in address.text
    await rep.aclose()

    # Charges need orders.terms: a clerk without it is told so.
    clerk = await staff_client(api, (await create_employee(api, ["order_desk"], 2))["token"])
    form = await clerk.get(url)
    assert 'name="charge-0"' in form.text and "disabled" in form.text
    charged = {"sku-0": product["sku"], "qty-0": "1", "charge-0": "Setup", "amount-0": "10"}
    refused = await clerk.post(url, {"action": "place", **charged})
    assert refused.status_code == 422 and "orders.terms" in refused.text
    await clerk.aclose()
    assert not _orders_of(engine, customer["id"])


async def test_place_an_order_from_the_page(api: httpx.AsyncClient, engine: Engine) -> None:
    product = await create_product(api, on_hand=9, price="12.00", name="Crate")
    customer = await create_customer(api, name="Form Buyer")
    address = await api.post(
        f"/api/customers/{customer['id']}/addresses",
        json={
            "kind": "shipping",
            "name": "Dock 2",
            "line1": "2 Quay",
            "city": "Hull",
            "country": "GB",
        },
    )
    assert address.status_code == 201, address.text
    rep = await _rep(api)
    url = f"/orders/new?customer_id={customer['id']}"
    form = await rep.get(url)
    # The customer's shipping address is picked already.
    assert f'<option value="{address.json()["id"]}" selected>Dock 2, 2 Quay' in form.text
    key = re.search(r'name="key" value="([^"]+)"', form.text).group(1)
    body = {
        "action": "place",
        "key": key,
        "sku-0": product["sku"],
        "qty-0": "3",
        "charge-0": "Pallet",
        "amount-0": "15.00",
        "warehouse": "MAIN",
        "ship_to_address": str(address.json()["id"]),
        "customer_po": "PO-PAGE-7",
        "requested_delivery_date": _days(4),
        "allow_partial": "on",
    }
    placed = await rep.post(url, body)
    assert placed.status_code == 303, placed.text
    number = NUMBER.search(placed.headers["location"]).group(1)
    again = await rep.post(url, body)  # the same form sent twice: one order
    assert again.headers["location"] == placed.headers["location"]
    order = (await api.get(f"/api/orders/{number}")).json()
    assert order["status"] == "open" and order["explicit_quote"] is False
    assert order["customer_po"] == "PO-PAGE-7" and order["requested_delivery_date"] == _days(4)
    assert order["allow_partial"] is True and order["warehouse"] == "MAIN"
    assert order["ship_to"]["name"] == "Dock 2" and order["ship_to"]["country"] == "GB"
    assert [(c["kind"], c["amount"]) for c in order["charges"]] == [("special", "15.00")]
    assert order["lines"][0]["qty"] == 3 and order["channel"] == "sales_rep"
    assert len(_orders_of(engine, customer["id"])) == 1
    with Session(engine) as session:
        entry = session.exec(
            select(AuditEntry)
            .where(AuditEntry.entity_id == number)
            .where(AuditEntry.action == "order.place")
        ).one()
    assert entry.source == "page"
    page = await rep.get(placed.headers["location"])
    assert "saved for Form Buyer" in page.text and 'data-testid="quote-links"' not in page.text
    await rep.aclose()


async def _mail_to(mailbox: Mailbox, address: str, subject: str) -> list:
    for _ in range(300):
        mails = [m for m in mailbox.to(address) if subject in str(m["Subject"])]
        if mails:
            return mails
        await asyncio.sleep(0.1)
    raise AssertionError(f"no mail {subject!r} to {address}")


async def test_save_a_quote_its_pdf_and_mail_then_revise_it(
    api: httpx.AsyncClient, worker, engine: Engine, mailbox: Mailbox, tmp_path: Path
) -> None:
    product = await create_product(api, on_hand=20, price="40.00", name="Κουτί δώρου")
    customer = await create_customer(api, name="Ωμέγα Εμπορική")
    vat = {"tax_class": "standard", "country": "GR", "rate": "24"}
    assert (await api.post("/api/tax-rates", json=vat)).status_code == 201
    rep = await _rep(api)
    url = f"/orders/new?customer_id={customer['id']}"
    body = {
        "action": "quote",
        "sku-0": product["sku"],
        "qty-0": "2",
        "quote_valid_until": _days(9),
        "customer_po": "PO-Ω-1",
        "ship_to_address": "other",
        "ship_to_name": "Ωμέγα Αποθήκη",
        "ship_to_line1": "Οδός Ερμού 5",
        "ship_to_city": "Αθήνα",
        "ship_to_country": "GR",
    }
    saved = await rep.post(url, body)
    assert saved.status_code == 303, saved.text
    number = NUMBER.search(saved.headers["location"]).group(1)
    quote = (await api.get(f"/api/orders/{number}")).json()
    assert quote["status"] == "quote" and quote["explicit_quote"] is True
    assert quote["quote_valid_until"] == _days(9) and quote["ship_to"]["city"] == "Αθήνα"
    await wait_for_open_task(api, number, "quote")

    pdf = await rep.get(f"/orders/{number}/quote.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = read_pdf(pdf.content, tmp_path, "quote")
    for expected in (f"Quote {number}", "Ωμέγα Εμπορική", "Κουτί δώρου", "Αθήνα", "PO-Ω-1"):
        assert expected in text, expected
    assert f"Valid until: {_days(9)}" in text and "Version: 1" in text and "80.00 USD" in text
    assert "24 %" in text and "19.20 USD" in text and "99.20 USD" in text  # Greek VAT, total

    mail = (await _mail_to(mailbox, customer["email"], number))[0]
    assert "attached as a PDF" in mail.get_body(preferencelist=("plain",)).get_content()
    attachments = list(mail.iter_attachments())
    assert [a.get_filename() for a in attachments] == [f"quote-{number}.pdf"]
    assert "Ωμέγα Εμπορική" in read_pdf(attachments[0].get_content(), tmp_path, "mailed")

    # The customer downloads it in the customer center; another customer cannot.
    open_customer_account(engine, customer["id"], "omega-pass-1")
    own = await customer_client(api, customer["email"], "omega-pass-1")
    center = await own.get(f"/customer/orders/{number}")
    assert f'href="/customer/orders/{number}/quote.pdf"' in center.text
    mine = await own.get(f"/customer/orders/{number}/quote.pdf")
    assert mine.headers["content-type"] == "application/pdf"
    assert "Ωμέγα Εμπορική" in read_pdf(mine.content, tmp_path, "customer")
    await own.aclose()
    other = await create_customer(api)
    open_customer_account(engine, other["id"], "other-pass-1")
    stranger = await customer_client(api, other["email"], "other-pass-1")
    assert (await stranger.get(f"/customer/orders/{number}/quote.pdf")).status_code == 404
    await stranger.aclose()

    page = await rep.get(f"/orders/{number}")
    assert f'href="/orders/{number}/quote.pdf"' in page.text
    assert f'href="/orders/{number}/revise"' in page.text
    form = await rep.get(f"/orders/{number}/revise")
    assert form.status_code == 200 and f'name="sku-0" value="{product["sku"]}"' in form.text
    assert 'value="PO-Ω-1"' in form.text and f'value="{_days(9)}"' in form.text
    revision = {
        "action": "revise",
        "sku-0": product["sku"],
        "qty-0": "5",
        "customer_po": "PO-Ω-1",
        "quote_valid_until": _days(12),
    }
    bad = await rep.post(f"/orders/{number}/revise", revision | {"qty-0": "0"})
    assert bad.status_code == 422 and "between 1 and 100,000" in bad.text
    revised = await rep.post(f"/orders/{number}/revise", revision)
    assert revised.status_code == 303, revised.text
    new = NUMBER.search(revised.headers["location"]).group(1)
    second = (await api.get(f"/api/orders/{new}")).json()
    assert second["revises"] == number and second["quote_version"] == 2
    assert second["lines"][0]["qty"] == 5 and second["quote_valid_until"] == _days(12)
    old = await wait_for_order(api, number, lambda o: o["status"] == "cancelled")
    assert old["superseded_by"] == new
    # The old version offers no revision any more; revising it again is refused.
    assert f'href="/orders/{number}/revise"' not in (await rep.get(f"/orders/{number}")).text
    assert (await rep.get(f"/orders/{number}/revise")).status_code == 409
    text = read_pdf((await rep.get(f"/orders/{new}/quote.pdf")).content, tmp_path, "v2")
    assert "Version: 2" in text and f"Replaces quote: {number}" in text
    await rep.aclose()

    # Not a quote: no quote PDF.
    plain = await rep_order(api, product["sku"], customer["id"])
    viewer = await _rep(api)
    assert (await viewer.get(f"/orders/{plain}/quote.pdf")).status_code == 404
    await viewer.aclose()


async def rep_order(api: httpx.AsyncClient, sku: str, customer_id: int) -> str:
    body = {"customer_id": customer_id, "lines": [{"sku": sku, "qty": 1}]}
    answer = await api.post("/api/orders", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()["number"]
