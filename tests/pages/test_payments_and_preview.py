"""First-hour fixes: a payment on an order that owes nothing is refused unless kept as customer
credit, every payment is listed (page and JSON), amounts typed as the pages print them
(`1,000.00`) are read, and the rules preview explains bad input in words."""

from decimal import Decimal

import httpx
import pytest

from conveyor.pages.numbers import plain_number
from tests.conftest import ADMIN_TOKEN, RULES
from tests.utils.api import (
    auth,
    create_customer,
    create_employee,
    create_product,
    place_order,
    wait_for_order,
)
from tests.utils.pages import staff_client


@pytest.fixture
def rules_dir():
    """Every step automatic: an order runs to collection and waits for its money."""
    return RULES / "all_auto"


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("1,000.00", "1000.00"),
        (" 12,345.6 ", "12345.6"),
        ("1,000", "1000"),
        ("37.50", "37.50"),
        ("1,00", "1,00"),  # not thousands: left for validation to refuse
        ("abc", "abc"),
    ],
)
def test_amounts_are_read_as_the_pages_print_them(typed: str, read: str) -> None:
    assert plain_number(typed) == read


async def test_a_paid_order_refuses_more_money_unless_kept_as_credit(
    api: httpx.AsyncClient, worker
) -> None:
    product = await create_product(api, on_hand=5, price="1200.00")
    customer = await create_customer(api)
    accountant = await create_employee(api, ["accountant"])
    order = await place_order(api, customer["id"], [(product["sku"], 1)], channel="phone")
    number = order["number"]
    await wait_for_order(api, number, lambda o: o["current_step"] == "collection")

    # The page reads the amount as it prints it: 1,000.00 is a thousand.
    staff = await staff_client(api, accountant["token"])
    paid = await staff.post(
        f"/orders/{number}/payments",
        {"amount": "1,000.00", "method": "bank_transfer", "reference": "REF-1", "key": "k1"},
    )
    assert paid.status_code == 303
    rest = await api.post(
        f"/api/orders/{number}/payments",
        json={"amount": "200.00", "method": "card", "reference": "REF-2"},
        headers=auth(accountant),
    )
    assert rest.status_code == 201, rest.text
    final = await wait_for_order(api, number, lambda o: o["status"] == "completed")
    assert final["totals"]["balance"] == "0.00"

    # Once nothing is owed, more money is refused, and nothing is recorded...
    extra = {"amount": "37.50", "reference": "REF-3"}
    refused = await api.post(f"/api/orders/{number}/payments", json=extra, headers=auth(accountant))
    assert refused.status_code == 409 and "owes nothing" in refused.json()["detail"]
    on_page = await staff.post(f"/orders/{number}/payments", {**extra, "key": "k3"})
    assert on_page.status_code == 303
    # The refusal is an alert (red, role=alert), not a flash that looks like success.
    shown = (await staff.get(on_page.headers["location"])).text
    alert = shown[shown.index('data-testid="alert"') :]
    assert 'class="flash bad" role="alert"' in shown and "owes nothing" in alert[:400]
    after = (await api.get(f"/api/orders/{number}")).json()
    assert [p["reference"] for p in after["payments"]] == ["REF-1", "REF-2"]

    # ... unless it is recorded as the customer's credit, explicitly.
    credit = await api.post(
        f"/api/orders/{number}/payments",
        json={**extra, "customer_credit": True},
        headers=auth(accountant),
    )
    assert credit.status_code == 201 and credit.json()["balance"] == "-37.50"
    payments = (await api.get(f"/api/orders/{number}")).json()["payments"]
    assert [(p["amount"], p["method"], p["reference"], p["customer_credit"]) for p in payments] == [
        ("1000.00", "bank_transfer", "REF-1", False),
        ("200.00", "card", "REF-2", False),
        ("37.50", "manual", "REF-3", True),
    ]
    assert {p["recorded_by"] for p in payments} == {accountant["email"]}
    assert all(p["received_at"] for p in payments)

    page = await staff.get(f"/orders/{number}")
    table = page.text[page.text.index('data-testid="payments"') :]
    for reference, amount in (("REF-1", "1,000.00"), ("REF-2", "200.00"), ("REF-3", "37.50")):
        assert reference in table and amount in table
    assert "customer credit" in table and accountant["email"] in table
    await staff.aclose()
    assert Decimal(payments[0]["amount"]) == Decimal("1000")

    # A badly written amendment says what to write in plain words (no literal backticks).
    admin = await staff_client(api, ADMIN_TOKEN)
    amend = await admin.post(f"/orders/{number}/amend", {"lines": "KB-MECH 2 3"})
    shown = (await admin.get(amend.headers["location"])).text
    assert "line 1: write the SKU and the quantity, e.g. KB-MECH 2" in shown and "`" not in shown
    await admin.aclose()


async def test_the_rules_preview_explains_bad_input(api: httpx.AsyncClient) -> None:
    customer = await create_customer(api, name="Preview Partner")
    staff = await staff_client(api, ADMIN_TOKEN)
    bad_customer = await staff.get("/rules", params={"channel": "web", "customer_id": "abc"})
    assert bad_customer.status_code == 200
    assert "invalid literal" not in bad_customer.text
    assert "no customer &#39;abc&#39;: give a name, e-mail or number" in bad_customer.text
    empty = await staff.get("/rules", params={"channel": "web"})
    assert "give the order&#39;s lines or its total" in empty.text
    bad_total = await staff.get("/rules", params={"channel": "web", "total": "lots"})
    assert "total:" in bad_total.text and "decimal" in bad_total.text.lower()
    by_name = await staff.get(
        "/rules", params={"channel": "web", "customer_id": "preview partner", "total": "1,500"}
    )
    # Found by name in any case: the preview uses the customer's group and the typed total.
    assert 'data-testid="preview"' in by_name.text and "flash bad" not in by_name.text
    assert f"{customer['group']}," in by_name.text and "total 1500" in by_name.text
    # The server's folders stay on the server: only the rule folder's name is shown.
    rules = await staff.get("/rules")
    assert "/tmp/" not in rules.text and "/work/" not in rules.text
    await staff.aclose()
