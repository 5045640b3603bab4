"""Supplier invoice pages without a browser: entered from a purchase order's form (prefilled
with what was received at the PO's prices), each line's match shown; a matched one posted and
paid from its page, a held one in the accountant's inbox with its differences and approved
from its page with a reason; a duplicate number and a bad price refused on the form."""

import re
import uuid
from decimal import Decimal

import httpx

from tests.purchasing.test_supplier_invoices import by_document, journal_rows, received_po
from tests.utils.api import create_employee
from tests.utils.pages import staff_client

SINV = re.compile(r"/purchasing/invoices/(SINV-\d+)")


async def test_an_invoice_entered_from_its_purchase_order_is_matched_posted_and_paid(
    api: httpx.AsyncClient,
) -> None:
    accountant = await create_employee(api, ["accountant"])
    _supplier, po, sku = await received_po(api, qty=10, received=7)
    staff = await staff_client(api, accountant["token"])
    po_page = await staff.get(f"/purchasing/orders/{po}")
    assert f'href="/purchasing/orders/{po}/invoice"' in po_page.text
    form = await staff.get(f"/purchasing/orders/{po}/invoice")
    assert form.status_code == 200, form.text
    # Prefilled: the 7 received and not yet invoiced, at the PO's price.
    assert f'name="qty:{sku}" inputmode="numeric" size="6" value="7"' in form.text
    assert f'name="price:{sku}" inputmode="decimal" size="10" value="5.0000"' in form.text

    number_on_paper = f"P-{uuid.uuid4().hex[:6]}"
    fields = {
        "supplier_number": number_on_paper,
        "invoice_date": "2026-11-20",
        f"qty:{sku}": "7",
        f"price:{sku}": "5.00",
    }
    bad = await staff.post(f"/purchasing/orders/{po}/invoice", fields | {f"price:{sku}": "five"})
    assert bad.status_code == 422 and "unit price is a number" in bad.text
    entered = await staff.post(f"/purchasing/orders/{po}/invoice", fields)
    assert entered.status_code == 303, entered.text
    number = SINV.search(entered.headers["location"]).group(1)
    page = await staff.get(f"/purchasing/invoices/{number}")
    assert 'data-testid="invoice-status">approved' in page.text
    assert "<strong>Matched</strong>" in page.text
    assert f'data-sku="{sku}" data-matched="yes"' in page.text
    assert by_document(await journal_rows(api, accountant), number)["2000"] == (
        Decimal("0"),
        Decimal("38.50"),  # 7 x 5.00 + 10 % tax
    )
    twice = await staff.post(f"/purchasing/orders/{po}/invoice", fields)
    assert twice.status_code == 409 and f"{number_on_paper} was entered before" in twice.text

    paid = await staff.post(f"/purchasing/invoices/{number}/payment", {"reference": "B-1"})
    assert paid.status_code == 303, paid.text
    page = await staff.get(f"/purchasing/invoices/{number}")
    assert 'data-testid="invoice-status">paid' in page.text and "(B-1)" in page.text
    listing = await staff.get("/purchasing/invoices", params={"status": "paid"})
    assert f'data-number="{number}" data-status="paid"' in listing.text
    await staff.aclose()


async def test_a_held_invoice_reaches_the_inbox_and_is_approved_from_its_page(
    api: httpx.AsyncClient,
) -> None:
    accountant = await create_employee(api, ["accountant"])
    clerk = await create_employee(api, ["purchasing"])
    _supplier, po, sku = await received_po(api, qty=10, received=10)
    purchasing = await staff_client(api, clerk["token"])
    entered = await purchasing.post(
        f"/purchasing/orders/{po}/invoice",
        {
            "supplier_number": "H-1",
            "invoice_date": "2026-11-20",
            f"qty:{sku}": "10",
            f"price:{sku}": "6.00",  # 20 % above the PO's 5.00
            "total": "66.00",
        },
    )
    assert entered.status_code == 303, entered.text
    number = SINV.search(entered.headers["location"]).group(1)
    page = await purchasing.get(f"/purchasing/invoices/{number}")
    assert 'data-testid="invoice-status">held' in page.text
    assert f"{sku}: unit price 6, purchase order 5" in page.text
    assert f'data-sku="{sku}" data-matched="no"' in page.text
    assert 'data-testid="decide-form"' not in page.text  # purchasing enters, does not decide
    refused = await purchasing.post(
        f"/purchasing/invoices/{number}/decide", {"decision": "approve", "reason": "ok"}
    )
    assert refused.status_code == 403

    staff = await staff_client(api, accountant["token"])
    inbox = await staff.get("/inbox/tasks", params={"scope": "pool"})
    assert inbox.status_code == 200, inbox.text
    assert f'href="/purchasing/invoices/{number}">{number}</a>' in inbox.text
    assert "unit price 6, purchase order 5" in inbox.text
    page = await staff.get(f"/purchasing/invoices/{number}")
    assert 'data-testid="decide-form"' in page.text
    no_reason = await staff.post(
        f"/purchasing/invoices/{number}/decide", {"decision": "approve", "reason": " "}
    )
    assert no_reason.status_code == 303  # back to the page with the refusal as the alert
    assert (
        'data-testid="invoice-status">held'
        in (await staff.get(f"/purchasing/invoices/{number}")).text
    )
    approved = await staff.post(
        f"/purchasing/invoices/{number}/decide",
        {"decision": "approve", "reason": "new price list from December"},
    )
    assert approved.status_code == 303, approved.text
    page = await staff.get(f"/purchasing/invoices/{number}")
    assert 'data-testid="invoice-status">approved' in page.text
    assert "new price list from December" in page.text
    assert by_document(await journal_rows(api, accountant), number) == {
        "2150": (Decimal("50.00"), Decimal("0")),
        "5100": (Decimal("10.00"), Decimal("0")),
        "1410": (Decimal("6.00"), Decimal("0")),
        "2000": (Decimal("0"), Decimal("66.00")),
    }
    inbox = await staff.get("/inbox/tasks", params={"scope": "pool"})
    assert f'href="/purchasing/invoices/{number}"' not in inbox.text  # the task is done
    await staff.aclose()
    await purchasing.aclose()
