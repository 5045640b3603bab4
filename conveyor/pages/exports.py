"""Exports to accounting packages: past runs (download again), a new run after a confirmation."""

from datetime import date
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep, SessionDep, StateDep
from conveyor.accounting import exports as export_service
from conveyor.accounting import mapping as account_mapping
from conveyor.accounting.packages import PACKAGES
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.core import spreadsheet
from conveyor.core.errors import DomainError, Invalid, NotFound
from conveyor.core.models import utcnow
from conveyor.core.settings import Settings
from conveyor.pages.web import (
    CsrfChecked,
    WebSessionDep,
    flash_redirect,
    page_refusal,
    page_router,
    render,
    require_page,
)

router = page_router()
BASE = "/accounting/exports"
CSV_COLUMNS = ["id", "package", "created_at", "created_by", "from", "to", "documents", "sha256"]


def _mapping(settings: Settings) -> account_mapping.AccountMap:
    return account_mapping.load_configured(settings.accounting_map_file)


def _period(start: str, end: str) -> tuple[date, date]:
    try:
        period = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError as exc:
        raise Invalid("give the period as two dates, YYYY-MM-DD") from exc
    if period[1] < period[0]:
        raise Invalid("the period ends before it starts")
    return period


def _runs_page(
    request: Request, session: Session, principal: Principal, package: str = ""
) -> Response:
    runs, count = export_service.list_runs(session=session, package_name=package or None, limit=200)
    today = utcnow().date()
    context = {
        "page": "exports",
        "packages": PACKAGES,
        "package": package,
        "runs": runs,
        "count": count,
        "default_from": today.replace(day=1).isoformat(),
        "default_to": today.isoformat(),
        "may_export": principal.can(Permission.JOURNAL_EXPORT),
    }
    return render(request, "exports.html", context, principal=principal)


@router.get(BASE, include_in_schema=False)
def exports_page(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.JOURNAL_VIEW)],
    package: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    """Past export runs newest first (each downloadable again) and the form for a new one."""
    if package and package not in PACKAGES:
        return page_refusal(request, NotFound(f"no package {package}"), principal=principal)
    return _runs_page(request, session, principal, package)


@router.get(f"{BASE}.csv", include_in_schema=False)
def exports_csv(
    session: ReadSessionDep,
    _: Annotated[Principal, require_page(Permission.JOURNAL_VIEW)],
) -> Response:
    """The list of runs as CSV."""
    runs, _count = export_service.list_runs(session=session, limit=10_000)
    rows = [
        [
            str(r.id),
            r.package,
            r.created_at.isoformat(),
            r.created_by,
            r.period_start.isoformat(),
            r.period_end.isoformat(),
            str(len(r.documents)),
            r.sha256,
        ]
        for r in runs
    ]
    return Response(
        spreadsheet.to_csv(CSV_COLUMNS, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="export-runs.csv"'},
    )


@router.get(f"{BASE}/new", include_in_schema=False)
def confirm_export_page(
    request: Request,
    session: ReadSessionDep,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.JOURNAL_EXPORT)],
    package: Annotated[str, Query(max_length=32)] = "",
    from_: Annotated[str, Query(alias="from", max_length=10)] = "",
    to: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    """What the new run would take (documents not yet exported to the package): confirm it."""
    try:
        start, end = _period(from_, to)
        preview = export_service.preview(
            session=session,
            package_name=package,
            start=start,
            end=end,
            mapping=_mapping(state.settings),
        )
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)
    context = {
        "page": "exports",
        "package": PACKAGES[package],
        "preview": preview,
        "start": start,
        "end": end,
    }
    return render(request, "exports_confirm.html", context, principal=principal)


@router.post(BASE, include_in_schema=False, dependencies=[CsrfChecked])
async def create_export(
    request: Request,
    session: SessionDep,
    state: StateDep,
    web: WebSessionDep,
    principal: Annotated[Principal, require_page(Permission.JOURNAL_EXPORT)],
) -> Response:
    """Record the confirmed run and offer its file."""
    form = await request.form()
    values = {k: form.get(k) for k in ("package", "from", "to", "confirmed")}
    text = {k: v if isinstance(v, str) else "" for k, v in values.items()}
    try:
        if text["confirmed"] != "yes":
            raise Invalid("confirm the export first")
        start, end = _period(text["from"], text["to"])
        run = export_service.create(
            session=session,
            package_name=text["package"],
            start=start,
            end=end,
            mapping=_mapping(state.settings),
            actor=principal.actor(Source.PAGE),
        )
    except DomainError as exc:
        session.rollback()
        return page_refusal(
            request, exc, web=web, flash="Not exported", back=BASE, principal=principal
        )
    recorded = f"Export {run.id} recorded: {len(run.documents)} documents in {run.filename}."
    return flash_redirect(request, web, f"{BASE}?package={run.package}", recorded)


@router.get(f"{BASE}/{{run_id}}/file", include_in_schema=False)
def export_file(
    run_id: int,
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.JOURNAL_VIEW)],
) -> Response:
    """A past run's file again, byte for byte as it was first produced."""
    run = export_service.get(session=session, run_id=run_id)
    if run is None:
        missing = NotFound(f"export run {run_id} not found")
        return page_refusal(request, missing, principal=principal)
    return Response(
        run.content, media_type=run.media_type, headers=export_service.file_headers(run)
    )
