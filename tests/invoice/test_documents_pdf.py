"""Documents as people read them: each PDF rendered to PNG and its text extracted (poppler),
with a customer named in Cyrillic and a product in Greek; the invoice's seller, due date and
paid/open status."""

from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from conveyor.core import settings as settings_module
from conveyor.core.pdf import document, lines, output
from tests.conftest import RULES
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

CUSTOMER = "Иван Петров"
PRODUCT = "Ωμέγα widget"


@pytest.fixture
def seller(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seller details as an operator configures them (CONVEYOR_COMPANY_*)."""
    for name, value in {
        "company_name": "ООО Конвейер",
        "company_address": "Hauptstraße 1; 10115 Berlin",
        "company_tax_id": "DE123456789",
        "company_bank_details": "IBAN DE02 1203 0000 0000 2020 51; BIC BYLADEM1001",
        "company_email": "billing@conveyor.example",
    }.items():
        monkeypatch.setattr(settings_module.settings, name, value)


def test_unicode_text_survives_the_pdf(tmp_path: Path) -> None:
    pdf = document("Счёт Ωμέγα")
    lines(pdf, [CUSTOMER, "Γιώργος Παπαδόπουλος", "Zoë Ærøskøbing"])
    text = read_pdf(output(pdf), tmp_path)
    for expected in ("Счёт Ωμέγα", CUSTOMER, "Γιώργος Παπαδόπουλος", "Zoë Ærøskøbing"):
        assert expected in text, text
    assert "?" not in text


async def test_invoice_pdf_seller_due_date_and_status(
    api: httpx.AsyncClient, worker, seller, tmp_path: Path
) -> None:
    product = await create_product(api, on_hand=5, price="12.00", name=PRODUCT)
    customer = await create_customer(api, name=CUSTOMER, payment_terms_days=14)
    order = await place_order(api, customer["id"], [(product["sku"], 2)], channel="sales_rep")
    await wait_for_order(api, order["number"], lambda o: o["current_step"] == "collection")
    invoice = (await api.get("/api/invoices", params={"order": order["number"]})).json()[0]
    issued = datetime.fromisoformat(invoice["issued_at"]).date()
    due = (issued + timedelta(days=14)).isoformat()

    text = read_pdf((await api.get(f"/api/invoices/{invoice['number']}/pdf")).content, tmp_path)
    for expected in (
        "ООО Конвейер",
        "Hauptstraße 1",
        "Tax ID: DE123456789",
        "IBAN DE02 1203 0000 0000 2020 51",
        CUSTOMER,
        PRODUCT,
        f"Due: {due} (14 days net)",
        "Status: open",
        invoice["number"],
    ):
        assert expected in text, expected
    assert date.fromisoformat(due) > issued

    paid = await api.post(
        f"/api/orders/{order['number']}/payments", json={"amount": invoice["total"]}
    )
    assert paid.status_code == 201, paid.text
    again = await api.get(f"/api/invoices/{invoice['number']}/pdf")
    assert "Status: paid" in read_pdf(again.content, tmp_path, "paid")


@pytest.mark.parametrize("rules_dir", [RULES / "picking_task"])
async def test_pick_list_and_packing_slip_pdfs(
    api: httpx.AsyncClient, worker, seller, tmp_path: Path
) -> None:
    product = await create_product(api, on_hand=5, name=PRODUCT, location="B-07")
    customer = await create_customer(api, name=CUSTOMER)
    ship_to = {"name": CUSTOMER, "line1": "ул. Ленина 5", "city": "Москва", "country": "RU"}
    order = await place_order(
        api, customer["id"], [(product["sku"], 3)], channel="sales_rep", ship_to=ship_to
    )
    await wait_for_open_task(api, order["number"], "picking")
    number = order["number"]
    warehouse = await create_employee(api, ["warehouse"])
    staff = await staff_client(api, warehouse["token"])
    pick_pdf = await staff.get(f"/orders/{number}/pick-list.pdf")
    slip_pdf = await staff.get(f"/orders/{number}/packing-slip.pdf")
    await staff.aclose()
    assert pick_pdf.headers["content-type"] == "application/pdf"
    pick = read_pdf(pick_pdf.content, tmp_path, "pick")
    slip = read_pdf(slip_pdf.content, tmp_path, "slip")
    for expected in (f"Pick list {number}", "B-07", product["sku"], PRODUCT, CUSTOMER):
        assert expected in pick, expected
    assert "ООО Конвейер" in pick
    for expected in (f"Packing slip {number}", "ул. Ленина 5", "Москва", PRODUCT, "3 pieces"):
        assert expected in slip, expected
