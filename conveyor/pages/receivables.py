"""Receivables pages: the ageing report (and its CSV) and customer statements as PDF."""

from datetime import date
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep, StateDep
from conveyor.auth.permissions import Permission
from conveyor.core import spreadsheet
from conveyor.core.errors import DomainError, NotFound
from conveyor.core.models import utcnow
from conveyor.customer import service as customer_service
from conveyor.customer.models import Customer
from conveyor.invoice import ageing as invoice_ageing
from conveyor.invoice import statement as invoice_statement
from conveyor.pages.web import CustomerDep, page_refusal, page_router, render, require_page

router = page_router()
Day = Annotated[date | None, Query()]


@router.get("/receivables/ageing", include_in_schema=False)
def ageing_page(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.INVOICES_VIEW)],
) -> Response:
    """What each customer owes, by days past the due date, with totals per currency."""
    now = utcnow()
    rows = invoice_ageing.ageing(session=session, now=now)
    context = {
        "page": "invoices",
        "as_of": now,
        "labels": [label for label, _, _ in invoice_ageing.BUCKETS],
        "rows": rows,
        "totals": invoice_ageing.totals(rows),
    }
    return render(request, "ageing.html", context, principal=principal)


@router.get("/receivables/ageing.csv", include_in_schema=False)
def ageing_csv(
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.INVOICES_VIEW)],
) -> Response:
    """The ageing report as CSV (the same rows as the page, then the totals)."""
    now = utcnow()
    rows = invoice_ageing.ageing(session=session, now=now)
    return Response(
        spreadsheet.to_csv(invoice_ageing.CSV_HEADER, invoice_ageing.csv_rows(rows)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="ageing-{now.date()}.csv"'},
    )


def _pdf(
    session: Session, customer: Customer, start: date | None, end: date | None, currency: str
) -> Response:
    content, filename = invoice_statement.document(
        session=session, customer=customer, start=start, end=end, fallback_currency=currency
    )
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


@router.get("/customers/{customer_id}/statement.pdf", include_in_schema=False)
def customer_statement(
    customer_id: int,
    request: Request,
    session: ReadSessionDep,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.INVOICES_VIEW)],
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> Response:
    """A customer's statement for a period (default: the last 90 days), for staff."""
    try:
        customer = customer_service.get(session=session, customer_id=customer_id)
        rep = principal.own_accounts_only()
        if customer is None or (rep is not None and customer.account_rep_id != rep):
            raise NotFound(f"customer {customer_id} not found")
        return _pdf(session, customer, start, end, state.settings.default_currency)
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)


@router.get("/customer/statement.pdf", include_in_schema=False)
def own_statement(
    request: Request,
    session: ReadSessionDep,
    state: StateDep,
    customer: CustomerDep,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> Response:
    """The signed-in customer's own statement (there is no way to ask for anyone else's)."""
    try:
        return _pdf(session, customer, start, end, state.settings.default_currency)
    except DomainError as exc:
        return page_refusal(request, exc, customer=customer)
