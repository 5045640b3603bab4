"""The CSV import page: upload, a dry-run report of every problem by line, then "Import"."""

import asyncio
from typing import Annotated

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from api.deps import Principal, StateDep
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.imports import csvfile
from conveyor.imports import flows as import_flows
from conveyor.imports.csvfile import Problem
from conveyor.imports.kinds import KINDS
from conveyor.imports.service import Report
from conveyor.pages.web import CsrfChecked, page_router, render, require_page

router = page_router()


def _show(
    request: Request,
    principal: Principal,
    *,
    kind: str = "customers",
    report: Report | None = None,
    text: str = "",
    status_code: int = 200,
) -> Response:
    context = {
        "page": "products",
        "kinds": KINDS,
        "kind": kind,
        "report": report,
        "text": text,
        "max_kib": csvfile.MAX_BYTES // 1024,
        "max_rows": csvfile.MAX_ROWS,
    }
    return render(request, "imports.html", context, status_code=status_code, principal=principal)


@router.get("/imports", include_in_schema=False)
def imports_page(
    request: Request, principal: Annotated[Principal, require_page(Permission.PRODUCTS_MANAGE)]
) -> Response:
    """Choose what to import and the file; each kind lists its columns."""
    return _show(request, principal)


async def _content(form) -> bytes | None:
    """The file's bytes: the upload, or the checked file carried on from the report."""
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        # Read one byte more than allowed: a larger file is refused without keeping it all.
        return await upload.read(csvfile.MAX_BYTES + 1)
    carried = form.get("content")
    return carried.encode() if isinstance(carried, str) and carried else None


@router.post("/imports", include_in_schema=False, dependencies=[CsrfChecked])
async def run_import(
    request: Request,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.PRODUCTS_MANAGE)],
) -> Response:
    """Check the file (dry run) or import it: all rows in one transaction, or none."""
    form = await request.form()
    kind = form.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        report = Report(kind="", problems=[Problem(0, "choose what the file holds")])
        return _show(request, principal, report=report, status_code=422)
    content = await _content(form)
    if content is None:
        report = Report(kind=kind, problems=[Problem(0, "choose a CSV file")])
        return _show(request, principal, kind=kind, report=report, status_code=422)
    write = form.get("action") == "import"
    report = await asyncio.to_thread(
        import_flows.run,
        state.engine,
        kind=kind,
        content=content,
        actor=principal.actor(Source.PAGE),
        default_warehouse=state.settings.default_warehouse,
        write=write,
    )
    # The checked file rides along (as text) so "Import" needs no second upload.
    text = "" if report.written or len(content) > csvfile.MAX_BYTES else _text(content)
    status_code = 200 if report.ok else 422
    return _show(request, principal, kind=kind, report=report, text=text, status_code=status_code)


def _text(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return ""
