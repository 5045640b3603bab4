"""Documents and mail pages over HTTP: pick list and packing slip PDFs and their refusals, task
cards with their context (order desk, credit, warehouse), the outbox list and message pages."""

from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, RULES, Mailbox
from tests.utils.api import (
    create_customer,
    create_employee,
    create_product,
    place_order,
    wait_for_open_task,
    wait_for_order,
)
from tests.utils.pages import staff_client
from tests.utils.pdf import read_pdf


@pytest.fixture
def rules_dir() -> Path:
    """Phone orders: credit approval; web orders: the order desk; the rest: pick and pack."""
    return RULES / "documents"


async def test_pick_list_and_packing_slip_routes_and_refusals(
    api: httpx.AsyncClient, worker, tmp_path: Path
) -> None:
    product = await create_product(api, on_hand=9, name="Ключ", location="C-03")
    customer = await create_customer(api, name="Αθηνά Λτδ")
    order = await place_order(api, customer["id"], [(product["sku"], 4)], channel="sales_rep")
    number = order["number"]
    await wait_for_open_task(api, number, "picking")

    warehouse = await staff_client(api, (await create_employee(api, ["warehouse"]))["token"])
    pick = await warehouse.get(f"/orders/{number}/pick-list.pdf")
    assert pick.status_code == 200 and pick.headers["content-type"] == "application/pdf"
    assert "frame-ancestors 'none'" in pick.headers["content-security-policy"]
    text = read_pdf(pick.content, tmp_path, "pick")
    assert "C-03" in text and "Ключ" in text and "Αθηνά Λτδ" in text
    slip = await warehouse.get(f"/orders/{number}/packing-slip.pdf?shipment=1")
    assert "Αθηνά Λτδ" in read_pdf(slip.content, tmp_path, "slip")
    # No such order, no such shipment, a bad shipment number.
    assert (await warehouse.get("/orders/XX-000000/pick-list.pdf")).status_code == 404
    assert (await warehouse.get(f"/orders/{number}/pick-list.pdf?shipment=7")).status_code == 404
    assert (await warehouse.get(f"/orders/{number}/pick-list.pdf?shipment=0")).status_code == 422
    await warehouse.aclose()

    # Sales may not see the warehouse's documents (picking.view); nobody signed in is sent away.
    sales = await staff_client(api, (await create_employee(api, ["sales"]))["token"])
    refused = await sales.get(f"/orders/{number}/pick-list.pdf")
    assert refused.status_code == 403 and "%PDF" not in refused.text
    assert (await sales.get(f"/orders/{number}/packing-slip.pdf")).status_code == 403
    await sales.aclose()
    anonymous = httpx.AsyncClient(transport=api._transport, base_url=str(api.base_url))
    assert (await anonymous.get(f"/orders/{number}/pick-list.pdf")).status_code == 303
    await anonymous.aclose()


async def test_task_cards_show_their_context(api: httpx.AsyncClient, worker) -> None:
    product = await create_product(api, on_hand=20, price="100.00", location="D-11")
    buyer = await create_customer(api, name="Context Buyer", credit_limit="5000.00")
    ship_to = {"name": "Dock 4", "line1": "1 Harbour Road", "city": "Leith", "country": "GB"}

    web = await place_order(
        api, buyer["id"], [(product["sku"], 1)], channel="web", ship_to=ship_to, prepaid=True
    )
    phone = await place_order(api, buyer["id"], [(product["sku"], 3)], channel="phone")
    pick = await place_order(api, buyer["id"], [(product["sku"], 2)], channel="sales_rep")
    await wait_for_open_task(api, web["number"], "allocation")
    await wait_for_open_task(api, phone["number"], "allocation")
    await wait_for_open_task(api, pick["number"], "picking")

    def card(page: str, number: str) -> str:
        start = page.index(f'data-order="{number}"')
        return page[start : page.index("</article>", start)]

    desk = await staff_client(api, (await create_employee(api, ["order_desk"]))["token"])
    page = (await desk.get("/inbox/tasks?scope=pool")).text
    desk_card = card(page, web["number"])
    assert 'data-kind="desk"' in desk_card
    assert "Dock 4, 1 Harbour Road, Leith, GB" in desk_card and "prepaid" in desk_card
    await desk.aclose()

    credit = await staff_client(api, (await create_employee(api, ["credit"]))["token"])
    credit_card = card((await credit.get("/inbox/tasks?scope=pool")).text, phone["number"])
    assert 'data-kind="credit"' in credit_card
    assert "5,000.00 USD" in credit_card  # the limit
    assert "300.00 USD" in credit_card  # this order
    assert 'data-testid="open-receivables">0.00 USD' in credit_card
    await credit.aclose()

    warehouse = await staff_client(api, (await create_employee(api, ["warehouse"]))["token"])
    pick_card = card((await warehouse.get("/inbox/tasks?scope=pool")).text, pick["number"])
    assert 'data-kind="pick"' in pick_card
    assert f'data-sku="{product["sku"]}"' in pick_card and "D-11" in pick_card
    assert f'href="/orders/{pick["number"]}/pick-list.pdf"' in pick_card
    await warehouse.aclose()


async def test_outbox_pages(
    api: httpx.AsyncClient, worker, mailbox: Mailbox, tmp_path: Path
) -> None:
    product = await create_product(api, on_hand=5, price="7.00")
    customer = await create_customer(api, name="Mail <Reader>")
    order = await place_order(
        api, customer["id"], [(product["sku"], 1)], channel="sales_rep", prepaid=True
    )
    number = order["number"]
    task = await wait_for_open_task(api, number, "picking")
    await api.post(f"/api/tasks/{task['id']}/complete", json={"outcome": "done"})
    task = await wait_for_open_task(api, number, "packing")
    await api.post(f"/api/tasks/{task['id']}/complete", json={"outcome": "done"})
    await wait_for_order(api, number, lambda o: o["status"] == "completed")
    invoice = (await api.get("/api/invoices", params={"order": number})).json()[0]

    admin = await staff_client(api, ADMIN_TOKEN)
    listing = await admin.get("/outbox", params={"order": number})
    assert listing.status_code == 200 and 'data-testid="row"' in listing.text
    assert customer["email"] in listing.text
    # Filters: by recipient and status; a bad status is ignored with a note, not a 422.
    assert customer["email"] in (await admin.get(f"/outbox?recipient={customer['email']}")).text
    assert "No messages match" in (await admin.get("/outbox?recipient=nobody@nowhere")).text
    noted = await admin.get("/outbox?status=lost")
    assert noted.status_code == 200 and "Ignored status" in noted.text
    exported = await admin.get("/outbox.csv", params={"order": number})
    assert exported.headers["content-type"].startswith("text/csv") and number in exported.text

    messages = (await api.get("/api/outbox", params={"order_number": number})).json()["data"]
    mail = next(m for m in messages if m["attachment"] == f"invoice:{invoice['number']}")
    page = await admin.get(f"/outbox/{mail['id']}")
    assert page.status_code == 200
    assert mail["subject"].replace("<", "&lt;") in page.text or mail["subject"] in page.text
    assert 'sandbox=""' in page.text and f'src="/outbox/{mail["id"]}/body.html"' in page.text
    assert "Mail <Reader>" not in page.text  # the text body is escaped
    body = await admin.get(f"/outbox/{mail['id']}/body.html")
    policy = body.headers["content-security-policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy and "script-src" not in policy
    assert body.headers["x-frame-options"] == "SAMEORIGIN" and "<html" in body.text.lower()
    attached = await admin.get(f"/outbox/{mail['id']}/attachment")
    assert attached.headers["content-disposition"].startswith("attachment;")
    assert invoice["number"] in read_pdf(attached.content, tmp_path, "attachment")
    assert (await admin.get("/outbox/999999")).status_code == 404
    await admin.aclose()

    # mail.view is the admin's: staff are refused.
    senior = await create_employee(api, ["order_desk"], clearance=4)
    desk = await staff_client(api, senior["token"])
    assert (await desk.get("/outbox")).status_code == 403
    assert (await desk.get(f"/outbox/{mail['id']}")).status_code == 403
    assert (await desk.get(f"/outbox/{mail['id']}/attachment")).status_code == 403
    await desk.aclose()
