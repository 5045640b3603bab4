"""Pricing through the API: agreements, quantity breaks, taxes, shipping, and the invoice."""

from decimal import Decimal
from pathlib import Path

import httpx
import pytest

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
    """Every step automatic: the order waits for payment at collection."""
    return RULES / "all_auto"


async def _post(api: httpx.AsyncClient, path: str, body: dict) -> dict:
    response = await api.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_b2b_order_with_agreement_break_tax_and_shipping(
    api: httpx.AsyncClient, worker
) -> None:
    tool = await create_product(api, on_hand=100, price="12.00", item_group="tools")
    book = await create_product(api, on_hand=50, price="5.00", tax_class="reduced")
    customer = await create_customer(api, group="wholesale", country="DE")
    other = await create_customer(api, group="retail", country="DE")
    sku = tool["sku"]
    await _post(
        api,
        "/api/price-agreements",
        {
            "name": "Wholesale tools",
            "customer_group": "wholesale",
            "sku": sku,
            "unit_price": "10.50",
        },
    )
    brk = await _post(
        api,
        "/api/price-agreements",
        {
            "name": "Wholesale 20+",
            "customer_group": "wholesale",
            "sku": sku,
            "min_qty": 20,
            "unit_price": "9.75",
        },
    )
    await _post(
        api,
        "/api/price-agreements",
        {"name": "Expired", "sku": sku, "unit_price": "1.00", "valid_to": "2020-12-31"},
    )
    await _post(api, "/api/tax-rates", {"tax_class": "standard", "country": "DE", "rate": "19"})
    await _post(api, "/api/tax-rates", {"tax_class": "reduced", "country": "DE", "rate": "7"})
    await _post(
        api, "/api/shipping-rates", {"name": "DE parcel", "country": "DE", "amount": "6.90"}
    )

    order = await place_order(api, customer["id"], [(sku, 24), (book["sku"], 5)])
    lines = {ln["sku"]: ln for ln in order["lines"]}
    assert lines[sku]["unit_price"] == "9.75"
    assert lines[sku]["list_price"] == "12.00"
    assert lines[sku]["line_total"] == "234.00"
    assert lines[sku]["price_rule"] == f"agreement {brk['id']}: Wholesale 20+"
    assert lines[sku]["tax_amount"] == "44.46"
    assert lines[book["sku"]]["price_rule"] == "list price"
    assert lines[book["sku"]]["tax_amount"] == "1.75"
    assert order["charges"] == [
        {
            "kind": "shipping",
            "description": "DE parcel",
            "amount": "6.90",
            "tax_rate": "19.0000",
            "tax_amount": "1.31",
        }
    ]
    assert order["totals"] == {
        "currency": "USD",
        "subtotal": "259.00",
        "discount": "0.00",
        "charges": "6.90",
        "tax": "47.52",
        "tax_included": False,
        "total": "313.42",
        "invoiced": "0.00",
        "paid": "0.00",
        "credited": "0.00",
        "balance": "0.00",
    }
    # Below the break the plain agreement applies; another group pays the list price.
    small = await place_order(api, customer["id"], [(sku, 19)])
    assert small["lines"][0]["unit_price"] == "10.50"
    retail = await place_order(api, other["id"], [(sku, 24)])
    assert retail["lines"][0]["unit_price"] == "12.00"

    number = order["number"]
    waiting = await wait_for_order(api, number, lambda o: o["current_step"] == "collection")
    assert waiting["totals"]["invoiced"] == "313.42"
    invoices = (await api.get("/api/invoices", params={"order": number})).json()
    assert len(invoices) == 1
    invoice = invoices[0]
    assert invoice["number"].startswith("INV-20")
    assert (invoice["subtotal"], invoice["charges"], invoice["tax"], invoice["total"]) == (
        "259.00",
        "6.90",
        "47.52",
        "313.42",
    )
    amounts = [Decimal(ln["amount"]) for ln in invoice["lines"]]
    taxes = [Decimal(ln["tax_amount"]) for ln in invoice["lines"]]
    assert [ln["kind"] for ln in invoice["lines"]] == ["item", "item", "shipping"]
    assert sum(amounts) == Decimal(invoice["subtotal"]) + Decimal(invoice["charges"])
    assert sum(taxes) == Decimal(invoice["tax"])
    assert sum(amounts) + sum(taxes) == Decimal(invoice["total"])
    single = await api.get(f"/api/invoices/{invoice['number']}")
    assert single.status_code == 200 and single.json() == invoice
    assert (await api.get("/api/invoices/INV-1999-000001")).status_code == 404

    accountant = await create_employee(api, ["accountant"])
    for amount in ("300.00", "13.42"):
        paid = await api.post(
            f"/api/orders/{number}/payments", json={"amount": amount}, headers=auth(accountant)
        )
        assert paid.status_code == 201, paid.text
    final = await wait_for_order(api, number, lambda o: o["status"] == "completed")
    assert final["totals"]["paid"] == final["totals"]["total"] == "313.42"


async def test_order_discount_inclusive_prices_and_explicit_charges(
    api: httpx.AsyncClient,
) -> None:
    product = await create_product(api, on_hand=10, price="11.90")
    customer = await create_customer(api, group="gold", country="AT")
    await _post(
        api,
        "/api/price-agreements",
        {
            "name": "Gold orders",
            "scope": "order",
            "customer_group": "gold",
            "discount_percent": "10",
            "min_amount": "20",
        },
    )
    await _post(api, "/api/tax-rates", {"tax_class": "standard", "country": "*", "rate": "20"})
    await _post(api, "/api/shipping-rates", {"amount": "9.99"})  # replaced by the explicit one
    order = await place_order(
        api,
        customer["id"],
        [(product["sku"], 3)],
        prices_include_tax=True,
        charges=[
            {"kind": "shipping", "description": "Express", "amount": "12.00"},
            {"kind": "special", "description": "Gift wrap", "amount": "2.40"},
        ],
    )
    # 3 x 11.90 = 35.70 less 10 % = 32.13 (tax inside: 32.13 x 20/120 = 5.355 -> 5.36)
    assert order["lines"][0]["line_total"] == "32.13"
    assert order["lines"][0]["discount_amount"] == "3.57"
    assert order["lines"][0]["tax_amount"] == "5.36"
    assert [c["description"] for c in order["charges"]] == ["Express", "Gift wrap"]
    totals = order["totals"]
    assert (totals["subtotal"], totals["discount"], totals["charges"]) == ("32.13", "3.57", "14.40")
    assert (totals["tax"], totals["tax_included"], totals["total"]) == ("7.76", True, "46.53")


async def test_agreement_admin_endpoints(api: httpx.AsyncClient) -> None:
    product = await create_product(api)
    bad = [
        {"name": "two prices", "unit_price": "1.00", "discount_percent": "5"},
        {"name": "no price"},
        {"name": "negative", "discount_amount": "-1"},
        {"name": "order fixed", "scope": "order", "unit_price": "1.00"},
        {
            "name": "dates",
            "discount_percent": "5",
            "valid_from": "2026-02-01",
            "valid_to": "2026-01-01",
        },
        {"name": "customer", "customer_id": 999999, "discount_percent": "5"},
        {"name": "currency", "currency": "usd", "discount_percent": "5"},
    ]
    for body in bad:
        response = await api.post("/api/price-agreements", json=body)
        assert response.status_code == 422, (body, response.text)
    created = await _post(
        api,
        "/api/price-agreements",
        {"name": "Promo", "sku": product["sku"], "discount_percent": "12.5", "priority": 3},
    )
    assert created["scope"] == "line" and created["discount_percent"] == "12.5"
    listed = (await api.get("/api/price-agreements", params={"sku": product["sku"]})).json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == created["id"]
    clerk = await create_employee(api, ["order_desk"])
    forbidden = await api.post(
        "/api/price-agreements", json={"name": "x", "unit_price": "1"}, headers=auth(clerk)
    )
    assert forbidden.status_code == 403
    assert (await api.post("/api/tax-rates", json={"rate": "101"})).status_code == 422
    assert (
        await api.post("/api/tax-rates", json={"rate": "5", "country": "de"})
    ).status_code == 422
    rates = (await api.get("/api/tax-rates")).json()
    assert rates == []


async def test_bad_pricing_input_is_a_clear_4xx_and_records_nothing(api: httpx.AsyncClient) -> None:
    dear = await create_product(api, price="999999999999.99")
    customer = await create_customer(api)
    before = (await api.get("/api/orders")).json()["count"]
    bad_orders = [
        {"lines": [{"sku": dear["sku"], "qty": 100_000}]},  # beyond what money columns hold
        {"lines": [{"sku": dear["sku"], "qty": 1}], "ship_to_country": "de"},
        {"lines": [{"sku": dear["sku"], "qty": 1}], "charges": [{"amount": "-5"}]},
        {"lines": [{"sku": dear["sku"], "qty": 1}], "charges": [{"kind": "bribe", "amount": "5"}]},
    ]
    for body in bad_orders:
        response = await api.post("/api/orders", json={"customer_id": customer["id"], **body})
        assert response.status_code == 422, (body, response.text)
    too_big = await api.post(
        "/api/orders",
        json={"customer_id": customer["id"], "lines": [{"sku": dear["sku"], "qty": 100_000}]},
    )
    assert "below" in too_big.json()["detail"]
    assert (await api.get("/api/orders")).json()["count"] == before
