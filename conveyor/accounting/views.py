"""Accounting endpoints: the journal for a date range, as CSV or JSON."""

from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep, StateDep, require
from conveyor.accounting import mapping as account_mapping
from conveyor.accounting import service as accounting_service
from conveyor.auth.permissions import Permission
from conveyor.core.settings import Settings

router = APIRouter()
MAX_DAYS = 3660
FromDate = Annotated[date, Query(alias="from", description="first day, inclusive (UTC)")]
ToDate = Annotated[date, Query(description="last day, inclusive (UTC)")]


class JournalRow(BaseModel):
    date: date
    journal: str
    document_type: str
    document: str
    order: str
    customer_id: int
    account: str
    description: str
    debit: Decimal
    credit: Decimal
    currency: str


class JournalPublic(BaseModel):
    data: list[JournalRow]
    count: int


def _postings(
    session: Session, settings: Settings, start: date, end: date
) -> list[accounting_service.Posting]:
    if end < start:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "`to` is before `from`")
    if (end - start).days > MAX_DAYS:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "at most ten years at once")
    try:
        mapping = account_mapping.load(settings.accounting_map_file)
    except account_mapping.AccountMapError as exc:
        # A configuration problem, not the caller's: say what is wrong with the file.
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"account mapping: {exc}") from exc
    return accounting_service.journal(session=session, start=start, end=end, mapping=mapping)


@router.get(
    "/journal.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "the journal as CSV"}},
)
def journal_csv(
    session: ReadSessionDep,
    state: StateDep,
    _: Annotated[Principal, require(Permission.JOURNAL_VIEW)],
    from_: FromDate,
    to: ToDate,
) -> Response:
    """Invoices, credit notes and payments as balanced journal rows (accountant or admin)."""
    postings = _postings(session, state.settings, from_, to)
    filename = f"journal-{from_.isoformat()}-{to.isoformat()}.csv"
    return Response(
        content=accounting_service.to_csv(postings),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/journal", response_model=JournalPublic)
def journal_json(
    session: ReadSessionDep,
    state: StateDep,
    _: Annotated[Principal, require(Permission.JOURNAL_VIEW)],
    from_: FromDate,
    to: ToDate,
) -> JournalPublic:
    """The same journal as JSON, for accounting systems that pull it (accountant or admin)."""
    postings = _postings(session, state.settings, from_, to)
    return JournalPublic(
        data=[JournalRow.model_validate(p, from_attributes=True) for p in postings],
        count=len(postings),
    )
