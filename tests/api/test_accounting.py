"""GET /api/accounting/journal.csv: an order's invoice and payments as balanced journal rows."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from conveyor.core.settings import Settings
from tests.conftest import RULES
from tests.utils.api import (
    auth,
    create_customer,
    create_employee,
    create_product,
    place_order,
    wait_for_order,
)


@pytest.fixture
def rules_dir() -> Path:
    """Every step automatic: the order is invoiced and waits for payment."""
    return RULES / "all_auto"


async def test_journal_csv_through_the_api(
    api: httpx.AsyncClient, worker, settings: Settings, tmp_path: Path
) -> None:
    product = await create_product(api, on_hand=10, price="40.00", item_group="gear")
    customer = await create_customer(api, country="FR")
    tax = {"tax_class": "standard", "country": "FR", "rate": "20"}
    assert (await api.post("/api/tax-rates", json=tax)).status_code == 201
    order = await place_order(
        api,
        customer["id"],
        [(product["sku"], 2)],
        charges=[{"kind": "shipping", "description": "Courier", "amount": "7.50"}],
    )
    assert order["totals"]["total"] == "105.00"  # (80.00 + 7.50) x 1.2
    number = order["number"]
    await wait_for_order(api, number, lambda o: o["current_step"] == "collection")
    accountant = await create_employee(api, ["accountant"])
    paid = await api.post(
        f"/api/orders/{number}/payments",
        json={"amount": "105.00", "method": "transfer", "reference": "BANK-7"},
        headers=auth(accountant),
    )
    assert paid.status_code == 201

    mapping = tmp_path / "accounts.yaml"
    mapping.write_text("revenue_by_item_group: {gear: '4050'}\npayment_methods: {transfer: 1010}\n")
    settings.accounting_map_file = mapping
    today = datetime.now(UTC).date().isoformat()
    response = await api.get(
        "/api/accounting/journal.csv", params={"from": today, "to": today}, headers=auth(accountant)
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    mine = [r for r in rows if r["order"] == number]
    invoice = (await api.get("/api/invoices", params={"order": number})).json()[0]
    cells = [(r["document"], r["account"], r["debit"], r["credit"]) for r in mine]
    assert cells == [
        (invoice["number"], "1200", "105.00", ""),
        (invoice["number"], "4050", "", "80.00"),
        (invoice["number"], "2200", "", "17.50"),
        (invoice["number"], "4100", "", "7.50"),
        (mine[-2]["document"], "1010", "105.00", ""),
        (mine[-2]["document"], "1200", "", "105.00"),
    ]
    debit = sum(Decimal(r["debit"] or 0) for r in mine)
    credit = sum(Decimal(r["credit"] or 0) for r in mine)
    assert debit == credit == Decimal("210.00")
    assert "BANK-7" in mine[-2]["description"]
    as_json = await api.get(
        "/api/accounting/journal", params={"from": today, "to": today}, headers=auth(accountant)
    )
    assert as_json.status_code == 200
    body = as_json.json()
    assert body["count"] == len(rows)
    first = next(r for r in body["data"] if r["order"] == number)
    assert (first["document"], first["account"], first["debit"], first["credit"]) == (
        invoice["number"],
        "1200",
        "105.00",
        "0.00",
    )

    # Only accountants (and admins); clear 4xx for bad ranges; a broken mapping says why.
    warehouse = await create_employee(api, ["warehouse"])
    params = {"from": today, "to": today}
    forbidden = await api.get("/api/accounting/journal.csv", params=params, headers=auth(warehouse))
    assert forbidden.status_code == 403
    for bad in (
        {"from": today},
        {"from": "2026-13-01", "to": today},
        {"from": today, "to": "2000-01-01"},
    ):
        response = await api.get("/api/accounting/journal.csv", params=bad)
        assert response.status_code == 422, bad
    mapping.write_text("accounts: {bank: [1, 2]}\n")
    broken = await api.get("/api/accounting/journal.csv", params=params)
    assert broken.status_code == 503
    assert "accounts.bank" in broken.json()["detail"]
