"""The accounting journal: balanced postings, mapped accounts, date range, CSV and CLI."""

import csv
import io
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from conveyor.accounting import mapping as account_mapping
from conveyor.accounting import service as accounting_service
from conveyor.audit.service import Actor
from conveyor.cli import main as cli_main
from conveyor.core.db import session_scope
from conveyor.core.settings import Settings
from conveyor.customer import service as customer_service
from conveyor.customer.models import CustomerCreate
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import ProductCreate
from conveyor.invoice import service as invoice_service
from conveyor.invoice.models import Invoice
from conveyor.order import service as order_service
from conveyor.order.models import OrderCreate, OrderLineCreate
from tests.utils.accounting import books as _books

TODAY = datetime.now(UTC).date()
MAPPING = """
accounts:
  receivable: 1400
  revenue: "8400"
revenue_by_item_group:
  books: "8300"
tax_by_class:
  reduced: "1771"
payment_methods:
  stripe: "1360"
journals:
  sales: AR
"""


def _by_document(postings: list[accounting_service.Posting]) -> dict[str, list]:
    documents = defaultdict(list)
    for posting in postings:
        documents[posting.document].append(posting)
    return documents


@pytest.mark.parametrize("inclusive", [False, True])
def test_every_document_balances_and_uses_the_mapping(
    engine: Engine, tmp_path: Path, inclusive: bool
) -> None:
    invoice_number, note_number = _books(engine, inclusive=inclusive)
    path = tmp_path / "accounts.yaml"
    path.write_text(MAPPING)
    mapping = account_mapping.load(path)
    with session_scope(engine) as session:
        postings = accounting_service.journal(
            session=session, start=TODAY, end=TODAY, mapping=mapping
        )
        invoice = invoice_service.get_by_number(session=session, number=invoice_number)
        assert isinstance(invoice, Invoice)
    documents = _by_document(postings)
    assert set(documents) == {
        invoice_number,
        note_number,
        "PAY-000001",
        "PAY-000002",
        "PAY-000003",
    }
    for rows in documents.values():
        assert sum(p.debit for p in rows) == sum(p.credit for p in rows) > 0
    sales = {(p.account, p.description): (p.debit, p.credit) for p in documents[invoice_number]}
    assert sales[("1400", "receivable")] == (invoice.total, Decimal("0.00"))
    # Exclusive: 3 x 19.99 = 59.97 at 19 % (11.39); 2 x 8.50 = 17.00 at 7 % (1.19);
    # shipping 4.95 (0.94) and wrap 2.00 (0.38) at 19 %. Inclusive: the tax is inside
    # (59.97: 9.58, 17.00: 1.11, 4.95: 0.79, 2.00: 0.32).
    if inclusive:
        expected = {
            ("8400", "revenue"): Decimal("50.39"),
            ("8300", "revenue"): Decimal("15.89"),
            ("4100", "shipping"): Decimal("4.16"),
            ("4200", "special charges"): Decimal("1.68"),
            ("2200", "tax 19%"): Decimal("10.69"),
            ("1771", "tax 7%"): Decimal("1.11"),
        }
        assert invoice.total == Decimal("83.92")
    else:
        expected = {
            ("8400", "revenue"): Decimal("59.97"),
            ("8300", "revenue"): Decimal("17.00"),
            ("4100", "shipping"): Decimal("4.95"),
            ("4200", "special charges"): Decimal("2.00"),
            ("2200", "tax 19%"): Decimal("12.71"),
            ("1771", "tax 7%"): Decimal("1.19"),
        }
        assert invoice.total == Decimal("97.82")
    assert {k: v[1] for k, v in sales.items() if k[0] != "1400"} == expected
    assert {p.journal for p in documents[invoice_number]} == {"AR"}
    # The credit note mirrors the invoice; payments go to the method's account.
    credit = {(p.account, p.description): (p.debit, p.credit) for p in documents[note_number]}
    assert credit == {k: (c, d) for k, (d, c) in sales.items()}
    stripe = documents["PAY-000001"]
    assert [(p.account, p.debit, p.credit, p.journal) for p in stripe] == [
        ("1360", Decimal("50.00"), Decimal("0.00"), "CASH"),
        ("1400", Decimal("0.00"), Decimal("50.00"), "CASH"),
    ]
    assert documents["PAY-000002"][0].account == "1000"  # default bank
    refund = documents["PAY-000003"]
    assert [(p.account, p.debit, p.credit) for p in refund] == [
        ("1000", Decimal("0.00"), Decimal("4.00")),
        ("1400", Decimal("4.00"), Decimal("0.00")),
    ]
    assert refund[0].description == "refund (stripe_refund)"


def test_date_range_and_csv(engine: Engine) -> None:
    invoice_number, _ = _books(engine)
    mapping = account_mapping.AccountMap()
    with session_scope(engine) as session:
        yesterday = TODAY - timedelta(days=1)
        assert (
            accounting_service.journal(
                session=session,
                start=yesterday - timedelta(days=30),
                end=yesterday,
                mapping=mapping,
            )
            == []
        )
        postings = accounting_service.journal(
            session=session, start=TODAY, end=TODAY + timedelta(days=1), mapping=mapping
        )
    rows = list(csv.reader(io.StringIO(accounting_service.to_csv(postings))))
    assert rows[0] == accounting_service.COLUMNS
    assert len(rows) == 1 + len(postings)
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["document"] == invoice_number and first["document_type"] == "invoice"
    assert first["account"] == "1200" and first["debit"] == "97.82" and first["credit"] == ""
    assert first["date"] == TODAY.isoformat() and first["currency"] == "USD"


def test_bad_mapping_files_are_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("accounts:\n  recievable: '1'\n")
    with pytest.raises(account_mapping.AccountMapError, match="recievable"):
        account_mapping.load(path)
    path.write_text("accounts: [\n")
    with pytest.raises(account_mapping.AccountMapError, match="m.yaml"):
        account_mapping.load(path)
    with pytest.raises(account_mapping.AccountMapError):
        account_mapping.load(tmp_path / "missing.yaml")


def test_conveyor_export_writes_the_journal(
    engine: Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    invoice_number, note_number = _books(engine)
    monkeypatch.setattr(cli_main, "settings", Settings(database_url=database_url))
    out = tmp_path / "journal.csv"
    day = TODAY.isoformat()
    assert cli_main.main(["export", "--from", day, "--to", day, "--out", str(out)]) == 0
    text = out.read_text()
    assert invoice_number in text and note_number in text and "PAY-000003" in text
    assert "-" not in "".join(row.split(",")[8] + row.split(",")[9] for row in text.splitlines())
    assert cli_main.main(["export", "--from", day, "--to", day]) == 0
    assert capsys.readouterr().out.replace("\r\n", "\n") == text.replace("\r\n", "\n")
    assert cli_main.main(["export", "--from", day, "--to", "2000-01-01"]) == 2
    with pytest.raises(SystemExit):
        cli_main.main(["export", "--from", "yesterday", "--to", day])
    bad = tmp_path / "bad.yaml"
    bad.write_text("nope: 1\n")
    assert cli_main.main(["export", "--from", day, "--to", day, "--mapping", str(bad)]) == 2
    assert date.fromisoformat(day) == TODAY


def test_an_order_with_unitemised_totals_still_invoices_and_balances(engine: Engine) -> None:
    # As a store order may arrive: lines at the store's prices, shipping and tax only in the total.
    with session_scope(engine) as session:
        customer = customer_service.create(
            session=session,
            customer_in=CustomerCreate(name="S", email="s@example.com"),
            actor=Actor.cli("test"),
        )
        inventory_service.create(
            session=session,
            product_in=ProductCreate(name="Item", sku="S1", price="9"),
            default_warehouse="MAIN",
            actor=Actor.cli("test"),
        )
        order = order_service.create(
            session=session,
            order_in=OrderCreate(customer_id=customer.id, lines=[OrderLineCreate(sku="S1", qty=2)]),
            created_by="store",
            line_prices=[Decimal("7.50")],
            actor=Actor.cli("test"),
        )
        assert order.subtotal == Decimal("15.00")
        order.total = Decimal("21.35")  # + the store's shipping and tax
        invoice = invoice_service.create_for_order(session=session, key="s", order=order)
        lines = invoice_service.lines(session=session, invoice_id=invoice.id)
        assert [(ln.kind, ln.amount) for ln in lines] == [
            ("item", Decimal("15.00")),
            ("adjustment", Decimal("6.35")),
        ]
        assert invoice.subtotal + invoice.charges + invoice.tax == invoice.total
        postings = accounting_service.journal(
            session=session, start=TODAY, end=TODAY, mapping=account_mapping.AccountMap()
        )
    assert [(p.account, p.debit, p.credit) for p in postings] == [
        ("1200", Decimal("21.35"), Decimal("0.00")),
        ("4000", Decimal("0.00"), Decimal("15.00")),
        ("4990", Decimal("0.00"), Decimal("6.35")),
    ]
