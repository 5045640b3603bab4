"""The accounting packages we export to, and the files each one imports, rendered from the journal.

Only layouts found in a package's own documentation are written in that package's format (the
address is kept with the layout). Where no documented layout was found, the package gets the
generic mapped CSV: the journal's own columns, one file per kind of document. See README,
"Exports to accounting packages".
"""

import io
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from conveyor.accounting.mapping import AccountMap
from conveyor.accounting.service import COLUMNS, Posting
from conveyor.core import spreadsheet

# The kinds of document in an export, in the order files are written.
KINDS = ("customer", "invoice", "credit_note", "payment")
ZERO = Decimal("0.00")
SQL_TEXT_IMPORT = "https://wiki.sql.com.my/wiki/SQL_Text_Import"
# The revision of that page that shows the invoice's DETAIL line next to its MASTER line.
SQL_TEXT_IMPORT_IV = "https://wiki.sql.com.my/index.php?title=SQL_Text_Import&oldid=3438"
AUTOCOUNT_IMPORT = (
    "https://ask4key.freshdesk.com/support/solutions/articles/5000785774-data-import-using-excel"
)


# SQL Accounting, "SQL Text Import", Maintain Customer (AR_Customer): a MASTER and a DETAIL line
# per customer, fields separated (and ended) by ";". Source: SQL_TEXT_IMPORT.
def _layout(documented: str) -> list[str]:
    """A layout line as the documentation writes it (`MASTER;CODE;...;`) as its field names."""
    return documented.rstrip(";").split(";")


SQL_CUSTOMER_MASTER = _layout(
    "MASTER;CODE;CONTROLACCOUNT;COMPANYNAME;COMPANYNAME2;COMPANYCATEGORY;AREA;AGENT;BIZNATURE;"
    "CREDITTERM;CREDITLIMIT;CURRENCYCODE;ALLOWEXCEEDCREDITLIMIT;PRICETAG;TAX;TAXEXEMPTNO;"
    "TAXEXPDATE;REGISTERNO;GSTNO;REMARK;CREATIONDATE;REGISTERNO2;"
)
SQL_CUSTOMER_DETAIL = _layout(
    "DETAIL;CODE;BRANCHNAME;ADDRESS1;ADDRESS2;ADDRESS3;ADDRESS4;ATTENTION;PHONE1;PHONE2;FAX1;FAX2;"
    "EMAIL;"
)
# Customer Invoice (AR_IV): a MASTER line per invoice, a DETAIL line per amount. Source:
# SQL_TEXT_IMPORT_IV (DOCDATE and POSTDATE "In DD/MM/YYYY format").
SQL_INVOICE_MASTER = _layout(
    "MASTER;DOCNO;DOCNOEX;DOCDATE;POSTDATE;CODE;TERMS;DESCRIPTION;AREA;AGENT;PROJECT;CURRENCYRATE;"
    "DOCAMT;CANCELLED;"
)
SQL_INVOICE_DETAIL = _layout(
    "DETAIL;DOCNO;ACCOUNT;DESCRIPTION;PROJECT;TAX;TAXAMT;TAXINCLUSIVE;AMOUNT;"
)
# The documented default for area, agent, category and project ("----").
SQL_NONE = "----"

GENERIC_CUSTOMER_COLUMNS = [
    "code",
    "customer_id",
    "name",
    "email",
    "country",
    "group",
    "payment_terms_days",
    "credit_limit",
    "receivable_account",
    "address_line1",
    "address_line2",
    "city",
    "postcode",
]


@dataclass(frozen=True)
class CustomerRecord:
    """A customer (debtor) as the exports show it."""

    customer_id: int
    name: str
    email: str
    country: str
    group: str
    payment_terms_days: int
    credit_limit: Decimal
    address: tuple[str, str, str, str]  # line1, line2, city, postcode ("" when unknown)

    @property
    def code(self) -> str:
        """The debtor code in the package: 10 characters at most (SQL Accounting's CODE)."""
        return _customer_code(self.customer_id)


@dataclass
class ExportData:
    """What one run exports: new customers and the journal postings of new documents."""

    customers: list[CustomerRecord]
    postings: dict[str, list[Posting]] = field(default_factory=dict)  # by kind, journal order
    mapping: AccountMap = field(default_factory=AccountMap)
    # Payment terms in days of every customer the documents name (new to the package or not).
    terms: dict[int, int] = field(default_factory=dict)

    def documents(self, kind: str) -> list[list[Posting]]:
        """The postings of each document of `kind`, one list per document, in journal order."""
        grouped: dict[str, list[Posting]] = {}
        for posting in self.postings.get(kind, []):
            grouped.setdefault(posting.document, []).append(posting)
        return list(grouped.values())


Renderer = Callable[[ExportData], str]


@dataclass(frozen=True)
class PackageFile:
    """One file of an export: its name, the kind of document it holds, and how it is written."""

    name: str
    kind: str
    render: Renderer
    documented: str | None  # the address of the documented layout; None: the generic CSV


@dataclass(frozen=True)
class Package:
    name: str
    label: str
    files: tuple[PackageFile, ...]
    note: str

    def file_for(self, kind: str) -> PackageFile:
        """The file that holds documents of `kind`."""
        return next(f for f in self.files if f.kind == kind)


def _customer_code(customer_id: int) -> str:
    return f"C{customer_id:06d}" if customer_id else ""


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


# Generic mapped CSV ------------------------------------------------------------------------


def generic_customers(data: ExportData) -> str:
    """Customers as CSV: code, identity, terms and the receivable (control) account."""
    rows = [
        [
            c.code,
            str(c.customer_id),
            c.name,
            c.email,
            c.country,
            c.group,
            str(c.payment_terms_days),
            _money(c.credit_limit),
            data.mapping.accounts.receivable,
            *c.address,
        ]
        for c in data.customers
    ]
    return spreadsheet.to_csv(GENERIC_CUSTOMER_COLUMNS, rows)


def generic_postings(kind: str) -> Renderer:
    """The journal rows of one kind of document, in the journal's own columns."""

    def render(data: ExportData) -> str:
        return spreadsheet.to_csv(COLUMNS, (p.row() for p in data.postings.get(kind, [])))

    return render


def _generic_files() -> tuple[PackageFile, ...]:
    return (
        PackageFile("customers.csv", "customer", generic_customers, None),
        PackageFile("invoices.csv", "invoice", generic_postings("invoice"), None),
        PackageFile("credit_notes.csv", "credit_note", generic_postings("credit_note"), None),
        PackageFile("receipts.csv", "payment", generic_postings("payment"), None),
    )


# SQL Accounting text import ----------------------------------------------------------------


def _sql_cell(value: str) -> str:
    # Line breaks cannot be imported (Description3 "not support multi line"); a value holding the
    # separator or a quote is quoted, quotes doubled, as the SQL Accounting examples write them.
    value = " ".join(value.split())
    if ";" in value or '"' in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def _sql_line(columns: Sequence[str], values: dict[str, str]) -> str:
    unknown = set(values) - set(columns)
    if unknown:  # a programming error: only documented fields are ever written
        raise ValueError(f"not in the documented layout: {sorted(unknown)}")
    return "".join(_sql_cell(values.get(name, "")) + ";" for name in columns) + "\r\n"


def _sql_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _sql_terms(days: int | None) -> str:
    # Written like the documented examples ("30 Days"); it must exist in Maintain Terms.
    return f"{days} Days" if days is not None else ""


def sql_customers(data: ExportData) -> str:
    """AR_Customer: a MASTER and a DETAIL line per customer."""
    lines = []
    for c in data.customers:
        lines.append(
            _sql_line(
                SQL_CUSTOMER_MASTER,
                {
                    "MASTER": "MASTER",
                    "CODE": c.code,
                    "CONTROLACCOUNT": data.mapping.accounts.receivable,
                    "COMPANYNAME": c.name[:100],
                    "COMPANYCATEGORY": SQL_NONE,
                    "AREA": SQL_NONE,
                    "AGENT": SQL_NONE,
                    "CREDITTERM": _sql_terms(c.payment_terms_days),
                    "CREDITLIMIT": _money(c.credit_limit),
                },
            )
        )
        line1, line2, city, postcode = c.address
        lines.append(
            _sql_line(
                SQL_CUSTOMER_DETAIL,
                {
                    "DETAIL": "DETAIL",
                    "CODE": c.code,
                    "BRANCHNAME": "BILLING",
                    "ADDRESS1": line1[:40],
                    "ADDRESS2": line2[:40],
                    "ADDRESS3": " ".join(p for p in (postcode, city) if p)[:40],
                    "ADDRESS4": c.country,
                    "EMAIL": c.email,
                },
            )
        )
    return "".join(lines)


def sql_invoices(data: ExportData) -> str:
    """AR_IV: a MASTER line per invoice (DOCAMT = the receivable) and a DETAIL line per credit
    posting (revenue by account, shipping, charges, and each tax on its own tax account)."""
    lines = []
    for postings in data.documents("invoice"):
        head = postings[0]
        receivable = sum((p.debit for p in postings), ZERO)
        lines.append(
            _sql_line(
                SQL_INVOICE_MASTER,
                {
                    "MASTER": "MASTER",
                    "DOCNO": head.document,
                    "DOCNOEX": head.order,
                    "DOCDATE": _sql_date(head.date),
                    "POSTDATE": _sql_date(head.date),
                    "CODE": _customer_code(head.customer_id),
                    "TERMS": _sql_terms(data.terms.get(head.customer_id)),
                    "DESCRIPTION": "Sales",
                    "AREA": SQL_NONE,
                    "AGENT": SQL_NONE,
                    "PROJECT": SQL_NONE,
                    "CURRENCYRATE": "1",
                    "DOCAMT": _money(receivable),
                    "CANCELLED": "F",
                },
            )
        )
        for p in postings:
            if not p.credit:
                continue
            lines.append(
                _sql_line(
                    SQL_INVOICE_DETAIL,
                    {
                        "DETAIL": "DETAIL",
                        "DOCNO": p.document,
                        "ACCOUNT": p.account,
                        "DESCRIPTION": p.description,
                        "PROJECT": SQL_NONE,
                        "TAXAMT": _money(ZERO),
                        "TAXINCLUSIVE": "F",
                        "AMOUNT": _money(p.credit - p.debit),
                    },
                )
            )
    return "".join(lines)


PACKAGES: dict[str, Package] = {
    "sql_accounting": Package(
        name="sql_accounting",
        label="SQL Accounting (eStream)",
        files=(
            PackageFile("AR_Customer.txt", "customer", sql_customers, SQL_TEXT_IMPORT),
            PackageFile("AR_IV.txt", "invoice", sql_invoices, SQL_TEXT_IMPORT_IV),
            PackageFile("credit_notes.csv", "credit_note", generic_postings("credit_note"), None),
            PackageFile("receipts.csv", "payment", generic_postings("payment"), None),
        ),
        note=(
            "Customers and invoices in the SQL Text Import layout (one file per document type, "
            "';' separated); no documented layout was found for credit notes and receipts, so "
            "those are the generic journal CSV."
        ),
    ),
    "autocount": Package(
        name="autocount",
        label="AutoCount Accounting",
        files=_generic_files(),
        note=(
            "AutoCount imports from its own Excel template, whose column list is not published "
            "as text: every file is the generic journal CSV, to map in AutoCount's import."
        ),
    ),
    "emas": Package(
        name="emas",
        label="EMAS Accounting",
        files=_generic_files(),
        note="No documented import layout was found: every file is the generic journal CSV.",
    ),
}


def render(package: Package, data: ExportData) -> bytes:
    """The run's zip: one file per kind of document (always all of them, empty ones too).

    Entries carry a fixed timestamp, so the same data always gives the same bytes.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for package_file in package.files:
            info = zipfile.ZipInfo(package_file.name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, package_file.render(data).encode("utf-8"))
    return buffer.getvalue()
