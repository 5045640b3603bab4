"""Exports to accounting packages: documented layouts column by column, nothing twice, same file."""

import csv
import io
import threading
import time
import zipfile
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from conveyor.accounting import exports as export_service
from conveyor.accounting import packages
from conveyor.accounting import service as accounting_service
from conveyor.accounting.mapping import AccountMap
from conveyor.accounting.models import ExportedDocument, ExportRun
from conveyor.audit.models import AuditEntry
from conveyor.audit.service import Actor
from conveyor.core.db import session_scope
from conveyor.core.errors import Conflict, Invalid
from conveyor.inventory import service as inventory_service
from conveyor.invoice import service as invoice_service
from conveyor.order.models import SalesOrder
from tests.utils.accounting import books

TODAY = datetime.now(UTC).date()
ACTOR = Actor.cli("accountant@example.com")
MAPPING = AccountMap()

# SQL Accounting's documented text-import layouts, copied from the documentation (not from our
# code): the test reads every exported line against them, field by field.
# https://wiki.sql.com.my/wiki/SQL_Text_Import ("Maintain Customer", AR_Customer, Format):
DOC_AR_CUSTOMER_MASTER = (
    "MASTER;CODE;CONTROLACCOUNT;COMPANYNAME;COMPANYNAME2;COMPANYCATEGORY;AREA;AGENT;BIZNATURE;"
    "CREDITTERM;CREDITLIMIT;CURRENCYCODE;ALLOWEXCEEDCREDITLIMIT;PRICETAG;TAX;TAXEXEMPTNO;"
    "TAXEXPDATE;REGISTERNO;GSTNO;REMARK;CREATIONDATE;REGISTERNO2;"
)
DOC_AR_CUSTOMER_DETAIL = (
    "DETAIL;CODE;BRANCHNAME;ADDRESS1;ADDRESS2;ADDRESS3;ADDRESS4;ATTENTION;PHONE1;PHONE2;FAX1;FAX2;"
    "EMAIL;"
)
# https://wiki.sql.com.my/index.php?title=SQL_Text_Import&oldid=3438 ("Customer Invoice",
# AR_IV, Format; DOCDATE and POSTDATE "In DD/MM/YYYY format"):
DOC_AR_IV_MASTER = (
    "MASTER;DOCNO;DOCNOEX;DOCDATE;POSTDATE;CODE;TERMS;DESCRIPTION;AREA;AGENT;PROJECT;CURRENCYRATE;"
    "DOCAMT;CANCELLED;"
)
DOC_AR_IV_DETAIL = "DETAIL;DOCNO;ACCOUNT;DESCRIPTION;PROJECT;TAX;TAXAMT;TAXINCLUSIVE;AMOUNT;"


def _fields(documented: str) -> list[str]:
    return documented.rstrip(";").split(";")


def _records(text: str, kind: str) -> list[dict[str, str]]:
    """The `kind` (MASTER or DETAIL) lines of a SQL text file, by documented field name."""
    layouts = {
        "AR_Customer": (DOC_AR_CUSTOMER_MASTER, DOC_AR_CUSTOMER_DETAIL),
        "AR_IV": (DOC_AR_IV_MASTER, DOC_AR_IV_DETAIL),
    }
    master, detail = layouts[kind.split(":")[0]]
    wanted = kind.split(":")[1]
    out = []
    for line in text.split("\r\n"):
        if not line:
            continue
        cells = line.split(";")
        # Every field ends with ";": one empty cell after the last field.
        assert cells[-1] == "", line
        names = _fields(master if cells[0] == "MASTER" else detail)
        assert cells[0] in ("MASTER", "DETAIL") and len(cells) - 1 == len(names), line
        if cells[0] == wanted:
            out.append(dict(zip(names, cells[:-1], strict=True)))
    return out


def _files(run: ExportRun) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(run.content)) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}


def _journal(engine: Engine) -> list[accounting_service.Posting]:
    with session_scope(engine) as session:
        return accounting_service.journal(session=session, start=TODAY, end=TODAY, mapping=MAPPING)


def _run(engine: Engine, package: str) -> ExportRun:
    with session_scope(engine) as session:
        run = export_service.create(
            session=session,
            package_name=package,
            start=TODAY,
            end=TODAY,
            mapping=MAPPING,
            actor=ACTOR,
        )
        session.expunge(run)
        return run


def test_our_layouts_are_the_documented_ones() -> None:
    assert packages.SQL_CUSTOMER_MASTER == _fields(DOC_AR_CUSTOMER_MASTER)
    assert packages.SQL_CUSTOMER_DETAIL == _fields(DOC_AR_CUSTOMER_DETAIL)
    assert packages.SQL_INVOICE_MASTER == _fields(DOC_AR_IV_MASTER)
    assert packages.SQL_INVOICE_DETAIL == _fields(DOC_AR_IV_DETAIL)


def test_sql_accounting_customers_and_invoices_in_the_text_import_layout(engine: Engine) -> None:
    invoice_number, note_number = books(engine)
    run = _run(engine, "sql_accounting")
    files = _files(run)
    assert sorted(files) == ["AR_Customer.txt", "AR_IV.txt", "credit_notes.csv", "receipts.csv"]
    with session_scope(engine) as session:
        invoice = invoice_service.get_by_number(session=session, number=invoice_number)
        assert invoice is not None
        order = session.get(SalesOrder, invoice.order_id)
        assert order is not None and order.number
        customer_id, order_number = order.customer_id, order.number

    (master,) = _records(files["AR_Customer.txt"], "AR_Customer:MASTER")
    code = f"C{customer_id:06d}"
    assert master["CODE"] == code and len(code) <= 10  # String 10
    assert master["CONTROLACCOUNT"] == MAPPING.accounts.receivable
    assert master["COMPANYNAME"] == "A"
    assert (master["COMPANYCATEGORY"], master["AREA"], master["AGENT"]) == ("----",) * 3
    assert master["CREDITTERM"] == "30 Days"  # the customer's payment terms
    (detail,) = _records(files["AR_Customer.txt"], "AR_Customer:DETAIL")
    assert (detail["CODE"], detail["BRANCHNAME"], detail["EMAIL"]) == (
        code,
        "BILLING",
        "a@example.com",
    )

    (head,) = _records(files["AR_IV.txt"], "AR_IV:MASTER")
    assert head["DOCNO"] == invoice_number and head["DOCNOEX"] == order_number
    assert head["DOCDATE"] == head["POSTDATE"] == TODAY.strftime("%d/%m/%Y")
    assert head["CODE"] == code and head["TERMS"] == "30 Days"
    assert (head["DESCRIPTION"], head["AREA"], head["AGENT"], head["PROJECT"]) == (
        "Sales",
        "----",
        "----",
        "----",
    )
    assert (head["CURRENCYRATE"], head["CANCELLED"]) == ("1", "F")
    assert Decimal(head["DOCAMT"]) == invoice.total == Decimal("97.82")
    lines = _records(files["AR_IV.txt"], "AR_IV:DETAIL")
    # One DETAIL line per credit posting of the invoice in the journal: the same accounts and
    # amounts, adding up to DOCAMT.
    journal = [p for p in _journal(engine) if p.document == invoice_number and p.credit]
    assert [(d["DOCNO"], d["ACCOUNT"], d["DESCRIPTION"], Decimal(d["AMOUNT"])) for d in lines] == [
        (invoice_number, p.account, p.description, p.credit) for p in journal
    ]
    assert sum(Decimal(d["AMOUNT"]) for d in lines) == Decimal(head["DOCAMT"])
    assert {d["TAXINCLUSIVE"] for d in lines} == {"F"}

    # No documented layout found for credit notes and receipts: the generic journal CSV.
    notes = list(csv.reader(io.StringIO(files["credit_notes.csv"])))
    assert notes[0] == accounting_service.COLUMNS
    assert {row[3] for row in notes[1:]} == {note_number}
    receipts = list(csv.DictReader(io.StringIO(files["receipts.csv"])))
    assert {r["document"] for r in receipts} == {"PAY-000001", "PAY-000002", "PAY-000003"}


@pytest.mark.parametrize("package", ["autocount", "emas"])
def test_generic_packages_get_the_journal_rows_and_totals_equal_the_journal(
    engine: Engine, package: str
) -> None:
    books(engine)
    with session_scope(engine) as session:  # the stock journal's documents are not a debtor's
        inventory_service.receive(
            session=session,
            key="export-test:receipt",
            sku="TOOL",
            qty=4,
            unit_cost=Decimal("7.25"),
            default_warehouse="MAIN",
            actor=ACTOR,
        )
    run = _run(engine, package)
    files = _files(run)
    assert sorted(files) == ["credit_notes.csv", "customers.csv", "invoices.csv", "receipts.csv"]
    exported: list[dict[str, str]] = []
    for name, kind in (
        ("invoices.csv", "invoice"),
        ("credit_notes.csv", "credit_note"),
        ("receipts.csv", "payment"),
    ):
        reader = csv.DictReader(io.StringIO(files[name]))
        assert reader.fieldnames == accounting_service.COLUMNS
        rows = list(reader)
        assert rows and {r["document_type"] for r in rows} == {kind}
        exported += rows
    journal = _journal(engine)
    assert {"receipt", "invoice"} <= {p.document_type for p in journal}
    journal = [p for p in journal if p.document_type in ("invoice", "credit_note", "payment")]
    assert [tuple(r.values()) for r in exported] == [tuple(p.row()) for p in journal]
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for r in exported:
        totals[r["document"]][0] += Decimal(r["debit"] or 0)
        totals[r["document"]][1] += Decimal(r["credit"] or 0)
    expected: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for p in journal:
        expected[p.document][0] += p.debit
        expected[p.document][1] += p.credit
    assert totals == expected
    customers = list(csv.DictReader(io.StringIO(files["customers.csv"])))
    assert [(c["name"], c["email"], c["receivable_account"]) for c in customers] == [
        ("A", "a@example.com", "1200")
    ]


def test_nothing_is_exported_twice_and_the_file_stays_the_same(engine: Engine) -> None:
    invoice_number, note_number = books(engine)
    first = _run(engine, "sql_accounting")
    assert first.counts == {"customer": 1, "invoice": 1, "credit_note": 1, "payment": 3}
    assert f"invoice:{invoice_number}" in first.documents
    assert f"credit_note:{note_number}" in first.documents
    with session_scope(engine) as session:
        preview = export_service.preview(
            session=session, package_name="sql_accounting", start=TODAY, end=TODAY, mapping=MAPPING
        )
        assert preview.documents == []
    with pytest.raises(Conflict, match="nothing new"):
        _run(engine, "sql_accounting")
    # Another package has its own history: it gets everything.
    other = _run(engine, "autocount")
    assert other.documents == first.documents

    # A new payment: the next run holds only it (its customer went out with the first run).
    with session_scope(engine) as session:
        order = session.exec(select(SalesOrder)).one()
        invoice_service.record_payment(
            session=session,
            key="p-late",
            order=order,
            amount=Decimal("1.00"),
            method="manual",
            actor=ACTOR,
        )
    second = _run(engine, "sql_accounting")
    assert second.documents == ["payment:PAY-000004"]
    assert _files(second)["AR_IV.txt"] == "" and _files(second)["AR_Customer.txt"] == ""
    receipts = list(csv.DictReader(io.StringIO(_files(second)["receipts.csv"])))
    assert {r["document"] for r in receipts} == {"PAY-000004"}

    # A past run is downloaded again byte for byte; the record says who, when and what.
    with session_scope(engine) as session:
        again = export_service.get(session=session, run_id=first.id or 0)
        assert again is not None and again.content == first.content
        assert again.sha256 == first.sha256 and again.created_by == ACTOR.name
        taken = session.exec(
            select(ExportedDocument).where(ExportedDocument.package == "sql_accounting")
        ).all()
        assert len(taken) == len(first.documents) + 1
        actions = session.exec(
            select(AuditEntry.entity_id).where(AuditEntry.action == "accounting.export")
        ).all()
        assert sorted(actions) == sorted(str(r.id) for r in (first, other, second))


def test_the_same_data_renders_the_same_bytes(engine: Engine) -> None:
    books(engine)
    run = _run(engine, "emas")
    journal = _journal(engine)
    with session_scope(engine) as session:
        customers = export_service._customers(session, [journal[0].customer_id])
    by_kind: dict[str, list[accounting_service.Posting]] = defaultdict(list)
    for p in journal:
        by_kind[p.document_type].append(p)
    data = packages.ExportData(customers=customers, postings=dict(by_kind), mapping=MAPPING)
    rendered = packages.render(packages.PACKAGES["emas"], data)
    assert rendered == run.content == packages.render(packages.PACKAGES["emas"], data)


def test_a_document_cannot_be_recorded_twice_for_a_package(engine: Engine) -> None:
    books(engine)
    run = _run(engine, "emas")
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(
            ExportedDocument(
                run_id=run.id or 0, package="emas", kind="payment", document="PAY-000001"
            )
        )
        session.flush()


def test_unknown_package_and_backwards_period_are_refused(engine: Engine) -> None:
    with session_scope(engine) as session:
        with pytest.raises(Invalid, match="unknown accounting package"):
            export_service.preview(
                session=session, package_name="nope", start=TODAY, end=TODAY, mapping=MAPPING
            )
        with pytest.raises(Invalid, match="ends before"):
            export_service.preview(
                session=session,
                package_name="emas",
                start=TODAY,
                end=TODAY.replace(year=TODAY.year - 1),
                mapping=MAPPING,
            )


def test_two_runs_racing_for_the_same_documents_export_them_once(engine: Engine) -> None:
    """The second run starts while the first holds its uncommitted documents: PostgreSQL makes
    it wait on the unique index and then refuses it; SQLite queues its write transaction
    behind the first, which it then finds took everything. Either way: one run, one export."""
    books(engine)
    flushed = threading.Event()
    outcome: dict[str, BaseException | ExportRun] = {}

    def first() -> None:
        with session_scope(engine) as session:
            outcome["first"] = export_service.create(
                session=session,
                package_name="emas",
                start=TODAY,
                end=TODAY,
                mapping=MAPPING,
                actor=ACTOR,
            )
            flushed.set()
            time.sleep(1.5)  # the second run starts meanwhile and waits for this transaction

    def second() -> None:
        assert flushed.wait(30)
        try:
            outcome["second"] = _run(engine, "emas")
        except Conflict as exc:
            outcome["second"] = exc

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert isinstance(outcome["first"], ExportRun)
    assert isinstance(outcome["second"], Conflict), outcome["second"]
    with session_scope(engine) as session:
        assert len(session.exec(select(ExportRun)).all()) == 1
        taken = session.exec(select(ExportedDocument)).all()
        assert len(taken) == len({(d.kind, d.document) for d in taken}) == 6
