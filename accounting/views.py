"""Accounting endpoints: the journal as CSV for a date range."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status

from accounting import mapping as account_mapping
from accounting import service as accounting_service
from api.deps import CurrentPrincipal, ReadSessionDep, StateDep

router = APIRouter()
MAX_DAYS = 3660


@router.get(
    "/journal.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "the journal as CSV"}},
)
def journal_csv(
    session: ReadSessionDep,
    state: StateDep,
    principal: CurrentPrincipal,
    from_: Annotated[date, Query(alias="from", description="first day, inclusive (UTC)")],
    to: Annotated[date, Query(description="last day, inclusive (UTC)")],
) -> Response:
    """Invoices, credit notes and payments as balanced journal rows (accountant or admin)."""
    if not principal.has_role("accountant"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the journal needs the accountant role")
    if to < from_:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "`to` is before `from`")
    if (to - from_).days > MAX_DAYS:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "at most ten years at once")
    try:
        mapping = account_mapping.load(state.settings.accounting_map_file)
    except account_mapping.AccountMapError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"account mapping: {exc}") from exc
    postings = accounting_service.journal(session=session, start=from_, end=to, mapping=mapping)
    filename = f"journal-{from_.isoformat()}-{to.isoformat()}.csv"
    return Response(
        content=accounting_service.to_csv(postings),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
