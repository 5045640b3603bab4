"""Supplier invoices over the API: matched three ways on entry (invoiced vs received and
ordered, price vs the purchase order's) within the tolerance; a matched one is posted as a
balanced payable, a mismatched one held with an accountant's task until approved (posted) or
rejected; the supplier's number is unique per supplier; payments post payable against bank."""

import asyncio
import time
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from conveyor.accounting.mapping import AccountMap
from conveyor.audit.models import AuditEntry
from conveyor.core.db import session_scope
from tests.purchasing.test_purchase_orders import add_price, make_supplier
from tests.utils.api import auth, create_customer, create_employee, create_product, place_order


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


async def received_po(
    api: httpx.AsyncClient, *, qty: int = 10, received: int = 10, price: str = "5.00"
) -> tuple[dict, str, str]:
    """A supplier (45 days' terms), a stock PO of `qty` x a new SKU at `price` with 10 % tax,
    `received` of it received; (supplier, PO number, SKU)."""
    product = await create_product(api, on_hand=0, price="20.00")
    sku = product["sku"]
    supplier = await make_supplier(api, payment_terms_days=45)
    created = await api.post(
        "/api/purchase-orders",
        json={
            "supplier": supplier["code"],
            "lines": [{"sku": sku, "qty": qty, "unit_price": price, "tax_rate": "10"}],
        },
    )
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    if received:
        receipt = await api.post(
            f"/api/purchase-orders/{number}/receipts",
            json={"lines": [{"sku": sku, "qty": received}]},
        )
        assert receipt.status_code == 200, receipt.text
    return supplier, number, sku


async def enter(
    api: httpx.AsyncClient, po: str, sku: str, qty: int, unit_price: str, **extra: object
) -> httpx.Response:
    body = {
        "purchase_order": po,
        "supplier_number": f"INV-{uuid.uuid4().hex[:6]}",
        "invoice_date": "2026-11-20",
        "lines": [{"sku": sku, "qty": qty, "unit_price": unit_price}],
        **extra,
    }
    return await api.post("/api/supplier-invoices", json=body)


async def journal_rows(api: httpx.AsyncClient, accountant: dict) -> list[dict]:
    response = await api.get(
        "/api/accounting/journal",
        params={"from": _today(), "to": _today()},
        headers=auth(accountant),
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def by_document(rows: list[dict], document: str) -> dict[str, tuple[Decimal, Decimal]]:
    """A document's (debit, credit) per account."""
    found = {
        r["account"]: (Decimal(r["debit"]), Decimal(r["credit"]))
        for r in rows
        if r["document"] == document
    }
    return found


def assert_balanced(rows: list[dict]) -> None:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        sums[r["document"]] += Decimal(r["debit"]) - Decimal(r["credit"])
    assert {doc: s for doc, s in sums.items() if s} == {}


async def test_a_matched_invoice_is_posted_as_a_balanced_payable_and_paid(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    accountant = await create_employee(api, ["accountant"])
    supplier, po, sku = await received_po(api)
    # 5.05 against 5.00 is 1 % off: inside the default 2 % tolerance.
    response = await enter(api, po, sku, 10, "5.05", total="55.55")
    assert response.status_code == 201, response.text
    invoice = response.json()
    number = invoice["number"]
    assert (invoice["status"], invoice["matched"], invoice["differences"]) == (
        "approved",
        True,
        [],
    )
    assert invoice["due_date"] == (date(2026, 11, 20) + timedelta(days=45)).isoformat()
    assert (invoice["net_total"], invoice["tax_total"], invoice["total"]) == (
        "50.50",
        "5.05",
        "55.55",
    )
    assert invoice["supplier"] == supplier["code"] and invoice["task_id"] is None
    line = invoice["lines"][0]
    assert (line["ordered_qty"], line["received_qty"], line["po_unit_price"]) == (10, 10, "5.0000")

    rows = await journal_rows(api, accountant)
    assert by_document(rows, number) == {
        "2150": (Decimal("50.00"), Decimal("0")),  # clears what the receipt credited
        "5100": (Decimal("0.50"), Decimal("0")),  # 10 x 0.05 above the PO's price
        "1410": (Decimal("5.05"), Decimal("0")),
        "2000": (Decimal("0"), Decimal("55.55")),
    }
    assert {r["journal"] for r in rows if r["document"] == number} == {"PURCH"}
    assert_balanced(rows)

    paid = await api.post(
        f"/api/supplier-invoices/{number}/payment",
        json={"reference": "BANK-7"},
        headers=auth(accountant),
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "paid"
    again = await api.post(f"/api/supplier-invoices/{number}/payment", json={})
    assert again.status_code == 409
    rows = await journal_rows(api, accountant)
    spay = next(r["document"] for r in rows if "BANK-7" in r["description"])
    payment = [r for r in rows if r["document"] == spay]
    assert {r["document_type"] for r in payment} == {"supplier_payment"}
    assert {(r["account"], Decimal(r["debit"]), Decimal(r["credit"])) for r in payment} == {
        ("1000", Decimal("0"), Decimal("55.55")),  # the bank pays
        ("2000", Decimal("55.55"), Decimal("0")),  # what we owed the supplier
    }
    assert {r["journal"] for r in payment} == {"CASH"}
    assert_balanced(rows)
    with session_scope(engine) as session:
        actions = session.exec(
            select(AuditEntry.action).where(AuditEntry.entity_id == number)
        ).all()
    assert set(actions) == {"supplier_invoice.enter", "supplier_invoice.pay"}


async def test_an_over_billed_invoice_is_held_with_a_task_and_posted_once_approved(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    accountant = await create_employee(api, ["accountant"])
    purchaser = await create_employee(api, ["purchasing"])
    _supplier, po, sku = await received_po(api, received=6)
    # 8 billed of 6 received, at 5.50 against 5.00 (10 %): two differences.
    response = await api.post(
        "/api/supplier-invoices",
        json={
            "purchase_order": po,
            "supplier_number": "A-100",
            "invoice_date": "2026-11-20",
            "lines": [{"sku": sku, "qty": 8, "unit_price": "5.50"}],
        },
        headers=auth(purchaser),
    )
    assert response.status_code == 201, response.text
    invoice = response.json()
    number = invoice["number"]
    assert invoice["status"] == "held" and not invoice["matched"]
    assert invoice["differences"] == [
        f"{sku}: 8 invoiced, 6 received",
        f"{sku}: unit price 5.5, purchase order 5",
    ]
    assert invoice["lines"][0]["differences"] == invoice["differences"]
    assert by_document(await journal_rows(api, accountant), number) == {}  # nothing posted

    pool = await api.get("/api/tasks", params={"scope": "pool"}, headers=auth(accountant))
    assert pool.status_code == 200, pool.text
    task = next(t for t in pool.json()["data"] if t["id"] == invoice["task_id"])
    assert (task["step"], task["role"], task["subject"], task["order_number"]) == (
        "invoice_match",
        "accountant",
        number,
        None,
    )
    assert "8 invoiced, 6 received" in task["details"] and "unit price 5.5" in task["details"]
    # Purchasing may enter invoices, not approve them.
    refused = await api.post(
        f"/api/supplier-invoices/{number}/approve",
        json={"reason": "fine"},
        headers=auth(purchaser),
    )
    assert refused.status_code == 403

    done = await api.post(
        f"/api/tasks/{task['id']}/complete",
        json={"outcome": "approved", "note": "agreed the price rise by phone"},
        headers=auth(accountant),
    )
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["outcome"]) == ("completed", "approved")
    approved = (await api.get(f"/api/supplier-invoices/{number}")).json()
    assert approved["status"] == "approved"
    assert approved["decision_reason"] == "agreed the price rise by phone"
    assert approved["decided_by"] == accountant["email"]
    rows = await journal_rows(api, accountant)
    assert by_document(rows, number) == {
        "2150": (Decimal("40.00"), Decimal("0")),  # 8 at the PO's 5.00
        "5100": (Decimal("4.00"), Decimal("0")),
        "1410": (Decimal("4.40"), Decimal("0")),
        "2000": (Decimal("0"), Decimal("48.40")),
    }
    assert_balanced(rows)
    again = await api.post(f"/api/supplier-invoices/{number}/approve", json={"reason": "again"})
    assert again.status_code == 409
    with session_scope(engine) as session:
        entry = session.exec(
            select(AuditEntry)
            .where(AuditEntry.entity_id == number)
            .where(AuditEntry.action == "supplier_invoice.approve")
        ).one()
    assert entry.after["reason"] == "agreed the price rise by phone"
    assert entry.before["status"] == "held" and entry.after["status"] == "approved"


async def test_a_rejected_invoice_bills_nothing_and_numbers_are_unique_per_supplier(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    accountant = await create_employee(api, ["accountant"])
    supplier, po, sku = await received_po(api, qty=10, received=10)
    first = await enter(api, po, sku, 12, "5.00", supplier_number="X-1")  # 12 of 10: held
    assert first.status_code == 201, first.text
    held = first.json()
    assert held["status"] == "held"
    assert f"{sku}: 12 invoiced, 10 received" in held["differences"]
    assert f"{sku}: 12 invoiced, 10 ordered" in held["differences"]

    duplicate = await enter(api, po, sku, 10, "5.00", supplier_number=" X-1 ")
    assert duplicate.status_code == 409, duplicate.text
    assert "X-1" in duplicate.json()["detail"]
    no_reason = await api.post(
        f"/api/supplier-invoices/{held['number']}/reject", json={"reason": " "}
    )
    assert no_reason.status_code == 422

    rejected = await api.post(
        f"/api/supplier-invoices/{held['number']}/reject",
        json={"reason": "billed 12, we got 10: asked for a corrected invoice"},
        headers=auth(accountant),
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    task = (await api.get(f"/api/tasks/{held['task_id']}", headers=auth(accountant))).json()
    assert (task["status"], task["outcome"]) == ("completed", "rejected")
    assert by_document(await journal_rows(api, accountant), held["number"]) == {}

    # The corrected invoice matches: the rejected one's quantities no longer count.
    corrected = await enter(api, po, sku, 10, "5.00", supplier_number="X-1b")
    assert corrected.json()["status"] == "approved", corrected.text
    # A second invoice for the same goods is billed twice: held.
    twice = await enter(api, po, sku, 10, "5.00", supplier_number="X-2")
    assert twice.json()["status"] == "held"
    assert (
        f"{sku}: 20 invoiced (10 on earlier invoices), 10 received" in (twice.json()["differences"])
    )
    # Another supplier may use the same number.
    _other, other_po, other_sku = await received_po(api)
    same_number = await enter(api, other_po, other_sku, 10, "5.00", supplier_number="X-1")
    assert same_number.status_code == 201, same_number.text
    listed = await api.get(
        "/api/supplier-invoices", params={"supplier": supplier["code"], "status": "held"}
    )
    assert [i["number"] for i in listed.json()["data"]] == [twice.json()["number"]]
    assert_balanced(await journal_rows(api, accountant))
    with session_scope(engine) as session:
        actions = session.exec(
            select(AuditEntry.action)
            .where(AuditEntry.entity_id == held["number"])
            .order_by(col(AuditEntry.id))
        ).all()
    assert actions == ["supplier_invoice.enter", "supplier_invoice.reject"]


async def test_an_invoice_in_another_currency_or_for_an_unknown_line_is_refused(
    api: httpx.AsyncClient,
) -> None:
    _supplier, po, _sku = await received_po(api)
    assert (await enter(api, po, "NOPE-1", 1, "5.00")).status_code == 422
    other = await api.post(
        "/api/supplier-invoices",
        json={
            "purchase_order": po,
            "supplier_number": "C-1",
            "invoice_date": "2026-11-20",
            "currency": "EUR",
            "lines": [{"sku": _sku, "qty": 1, "unit_price": "5.00"}],
        },
    )
    assert other.status_code == 422 and "EUR" in other.json()["detail"]
    assert (await enter(api, "PO-999999", _sku, 1, "5.00")).status_code == 422


async def test_a_drop_ship_is_billed_once_shipped_and_posted_to_cost_of_goods_sold(
    api: httpx.AsyncClient, worker, engine: Engine
) -> None:
    """The supplier ships to our customer and bills us: matched against what it confirmed
    shipped (nothing before), posted to the cost of goods sold (the goods never were ours
    in stock) against accounts payable."""
    accountant = await create_employee(api, ["accountant"])
    supplier = await make_supplier(api)
    # None in stock: the line goes to the supplier whose price list has it, at that price.
    desk = await create_product(api, on_hand=0, price="80.00", drop_ship_allowed=True)
    await add_price(api, supplier["code"], sku=desk["sku"], unit_price="50.00")
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(desk["sku"], 2)], prepaid=True)
    deadline = time.monotonic() + 60
    purchases: list[dict] = []
    while not purchases:
        assert time.monotonic() < deadline, "no purchase order for the drop-ship"
        purchases = (
            await api.get("/api/purchase-orders", params={"order": order["number"]})
        ).json()
        await asyncio.sleep(0.2)
    po = purchases[0]["number"]

    early = await enter(api, po, desk["sku"], 2, "50.00")  # billed before it shipped: held
    assert early.status_code == 201, early.text
    assert early.json()["status"] == "held" and early.json()["lines"][0]["received_qty"] == 0
    rejected = await api.post(
        f"/api/supplier-invoices/{early.json()['number']}/reject",
        json={"reason": "not shipped yet"},
        headers=auth(accountant),
    )
    assert rejected.status_code == 200, rejected.text

    shipped = await api.post(f"/api/purchase-orders/{po}/shipped", json={"tracking": "TRK-1"})
    assert shipped.status_code == 200, shipped.text
    billed = await enter(api, po, desk["sku"], 2, "50.00")
    assert billed.status_code == 201, billed.text
    assert billed.json()["status"] == "approved", billed.json()["differences"]
    assert billed.json()["lines"][0]["received_qty"] == 2
    rows = await journal_rows(api, accountant)
    cogs = AccountMap().accounts.cost_of_goods_sold
    assert by_document(rows, billed.json()["number"]) == {
        cogs: (Decimal("100.00"), Decimal("0")),
        "2000": (Decimal("0"), Decimal("100.00")),
    }
    assert_balanced(rows)
