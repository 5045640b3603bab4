"""Invoice endpoints: an invoice with its lines, charges and taxes; an order's invoices;
receivables: the ageing report and customer statements."""

from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from api.deps import Principal, ReadSessionDep, StateDep, require
from conveyor.auth.permissions import Permission
from conveyor.core import spreadsheet
from conveyor.core.errors import NotFound
from conveyor.core.models import utcnow
from conveyor.customer import service as customer_service
from conveyor.invoice import ageing as invoice_ageing
from conveyor.invoice import pdf as invoice_pdf
from conveyor.invoice import read as invoice_read
from conveyor.invoice import service as invoice_service
from conveyor.invoice import statement as invoice_statement
from conveyor.invoice.models import InvoiceDetail
from conveyor.order import read as order_read

router = APIRouter()
receivables_router = APIRouter()


@router.get("", response_model=list[InvoiceDetail])
def list_invoices(
    order: str, session: ReadSessionDep, _: Annotated[Principal, require(Permission.INVOICES_VIEW)]
) -> list[InvoiceDetail]:
    """The invoices of an order (`?order=<number>`), oldest first."""
    found = order_read.load(session, order)
    return [
        invoice_read.invoice_detail(session, invoice)
        for invoice in invoice_service.list_for_order(session=session, order_id=found.id or 0)
    ]


@router.get("/{number}", response_model=InvoiceDetail)
def read_invoice(
    number: str, session: ReadSessionDep, _: Annotated[Principal, require(Permission.INVOICES_VIEW)]
) -> InvoiceDetail:
    """One invoice with its lines, charges and taxes."""
    return invoice_read.invoice_detail(session, invoice_read.load(session, number))


@router.get(
    "/{number}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "the invoice as PDF"}},
)
def invoice_as_pdf(
    number: str, session: ReadSessionDep, _: Annotated[Principal, require(Permission.INVOICES_VIEW)]
) -> Response:
    """The invoice as a PDF document."""
    invoice = invoice_read.load(session, number)
    return Response(
        invoice_pdf.render(session=session, invoice=invoice),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{number}.pdf"'},
    )


class AgeingBuckets(BaseModel):
    """Open amounts by days past the due date."""

    current: Decimal
    days_1_30: Decimal
    days_31_60: Decimal
    days_61_90: Decimal
    days_over_90: Decimal
    total: Decimal

    @classmethod
    def of(cls, buckets: tuple[Decimal, ...] | list[Decimal], total: Decimal) -> "AgeingBuckets":
        current, d30, d60, d90, over = buckets
        return cls(
            current=current,
            days_1_30=d30,
            days_31_60=d60,
            days_61_90=d90,
            days_over_90=over,
            total=total,
        )


class AgeingCustomer(AgeingBuckets):
    customer_id: int
    customer: str
    currency: str


class AgeingTotal(AgeingBuckets):
    currency: str


class AgeingPublic(BaseModel):
    as_of: date
    data: list[AgeingCustomer]
    count: int
    totals: list[AgeingTotal]


@receivables_router.get("/ageing", response_model=AgeingPublic)
def ageing(
    session: ReadSessionDep, _: Annotated[Principal, require(Permission.INVOICES_VIEW)]
) -> AgeingPublic:
    """Open receivables per customer and currency by days past due (current, 1-30, 31-60,
    61-90, 90+), with totals per currency."""
    now = utcnow()
    rows = invoice_ageing.ageing(session=session, now=now)
    return AgeingPublic(
        as_of=now.date(),
        data=[
            AgeingCustomer(
                customer_id=r.customer_id,
                customer=r.customer,
                currency=r.currency,
                **AgeingBuckets.of(r.buckets, r.total).model_dump(),
            )
            for r in rows
        ],
        count=len(rows),
        totals=[
            AgeingTotal(currency=t.currency, **AgeingBuckets.of(t.buckets, t.total).model_dump())
            for t in invoice_ageing.totals(rows)
        ],
    )


@receivables_router.get(
    "/ageing.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "the ageing as CSV"}},
)
def ageing_csv(
    session: ReadSessionDep, _: Annotated[Principal, require(Permission.INVOICES_VIEW)]
) -> Response:
    """The same ageing as CSV: a row per customer and currency, then the totals."""
    now = utcnow()
    rows = invoice_ageing.ageing(session=session, now=now)
    return Response(
        spreadsheet.to_csv(invoice_ageing.CSV_HEADER, invoice_ageing.csv_rows(rows)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="ageing-{now.date()}.csv"'},
    )


@receivables_router.get(
    "/statements/{customer_id}.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "the statement"}},
)
def statement_pdf(
    customer_id: int,
    session: ReadSessionDep,
    state: StateDep,
    _: Annotated[Principal, require(Permission.INVOICES_VIEW)],
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
) -> Response:
    """The customer's statement for a period (default: the last 90 days) as PDF."""
    customer = customer_service.get(session=session, customer_id=customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    content, filename = invoice_statement.document(
        session=session,
        customer=customer,
        start=from_,
        end=to,
        fallback_currency=state.settings.default_currency,
    )
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )
