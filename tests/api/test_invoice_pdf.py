"""Invoices as PDF: through the API, and attached to the invoice e-mail."""

import asyncio
from pathlib import Path

import httpx

from tests.conftest import Mailbox
from tests.utils.api import create_customer, create_product, place_order, wait_for_order
from tests.utils.pdf import read_pdf


async def test_invoice_pdf_by_api_and_by_mail(
    api: httpx.AsyncClient, worker, mailbox: Mailbox, tmp_path: Path
) -> None:
    product = await create_product(api, on_hand=5, price="7.25", name="Blue widget")
    customer = await create_customer(api, name="Ada Buyer")
    order = await place_order(
        api, customer["id"], [(product["sku"], 2)], channel="sales_rep", prepaid=True
    )
    await wait_for_order(api, order["number"], lambda o: o["status"] == "completed")
    invoice = (await api.get("/api/invoices", params={"order": order["number"]})).json()[0]

    response = await api.get(f"/api/invoices/{invoice['number']}/pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    # The text is set in the bundled Unicode font (glyph ids in the file): read it as poppler does.
    text = read_pdf(response.content, tmp_path, "invoice")
    for expected in (invoice["number"], "Ada Buyer", "Blue widget", "14.50 USD", order["number"]):
        assert expected in text, expected
    assert (await api.get("/api/invoices/INV-1999-000001/pdf")).status_code == 404

    for _ in range(100):
        mails = [m for m in mailbox.to(customer["email"]) if "Invoice" in m["Subject"]]
        if mails:
            break
        await asyncio.sleep(0.1)
    attachments = list(mails[0].iter_attachments())
    assert [a.get_filename() for a in attachments] == [f"{invoice['number']}.pdf"]
    attached = attachments[0].get_content()
    assert invoice["number"] in read_pdf(attached, tmp_path, "attached")
