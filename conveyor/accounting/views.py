"""Accounting endpoints: the journal for a date range (CSV or JSON) and export runs."""

from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep, SessionDep, StateDep, require
from conveyor.accounting import exports as export_service
from conveyor.accounting import mapping as account_mapping
from conveyor.accounting import service as accounting_service
from conveyor.accounting.models import (
    ExportPreview,
    ExportRun,
    ExportRunCreate,
    ExportRunPublic,
    ExportRunsPublic,
)
from conveyor.audit.models import Source
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


def _checked_period(start: date, end: date) -> None:
    if end < start:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "`to` is before `from`")
    if (end - start).days > MAX_DAYS:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "at most ten years at once")


def _mapping(settings: Settings) -> account_mapping.AccountMap:
    return account_mapping.load_configured(settings.accounting_map_file)


def _postings(
    session: Session, settings: Settings, start: date, end: date
) -> list[accounting_service.Posting]:
    _checked_period(start, end)
    mapping = _mapping(settings)
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


@router.get("/exports", response_model=ExportRunsPublic)
def list_export_runs(
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.JOURNAL_VIEW)],
    package: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ExportRunsPublic:
    """Past export runs newest first: package, period, who, when, the documents taken."""
    if package is not None:
        export_service.package(package)
    runs, count = export_service.list_runs(
        session=session, package_name=package, limit=limit, offset=offset
    )
    return ExportRunsPublic(data=[export_service.public(r) for r in runs], count=count)


@router.get("/exports/preview", response_model=ExportPreview)
def preview_export_run(
    session: ReadSessionDep,
    state: StateDep,
    _: Annotated[Principal, require(Permission.JOURNAL_EXPORT)],
    package: Annotated[str, Query(max_length=32)],
    from_: FromDate,
    to: ToDate,
) -> ExportPreview:
    """The documents a new run would take now (not yet exported to that package)."""
    _checked_period(from_, to)
    return export_service.preview(
        session=session,
        package_name=package,
        start=from_,
        end=to,
        mapping=_mapping(state.settings),
    )


@router.post("/exports", response_model=ExportRunPublic, status_code=status.HTTP_201_CREATED)
def create_export_run(
    run_in: ExportRunCreate,
    session: SessionDep,
    state: StateDep,
    principal: Annotated[Principal, require(Permission.JOURNAL_EXPORT)],
) -> ExportRunPublic:
    """Export every document of the period not yet exported to the package (409: none)."""
    _checked_period(run_in.period_start, run_in.period_end)
    run = export_service.create(
        session=session,
        package_name=run_in.package,
        start=run_in.period_start,
        end=run_in.period_end,
        mapping=_mapping(state.settings),
        actor=principal.actor(Source.API),
    )
    return export_service.public(run)


@router.get("/exports/{run_id}", response_model=ExportRunPublic)
def get_export_run(
    run_id: int,
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.JOURNAL_VIEW)],
) -> ExportRunPublic:
    """One export run."""
    run = export_service.get(session=session, run_id=run_id)
    if run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"export run {run_id} not found")
    return export_service.public(run)


@router.get(
    "/exports/{run_id}/file",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}, "description": "the run's zip"}},
)
def download_export_run(
    run_id: int,
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.JOURNAL_VIEW)],
) -> Response:
    """The run's file, byte for byte as it was produced (a re-export of a past run)."""
    run = export_service.get(session=session, run_id=run_id)
    if run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"export run {run_id} not found")
    return _file(run)


def _file(run: ExportRun) -> Response:
    return Response(
        content=run.content, media_type=run.media_type, headers=export_service.file_headers(run)
    )
