"""The local mail sink's messages on the Mail page (`conveyor dev` only): every mail the sink
received, set-password links included (they never enter the outbox), readable without a mail
program."""

from pathlib import Path as PathType
from typing import Annotated

from fastapi import Path, Request
from fastapi.responses import Response

from api.deps import Principal, StateDep
from conveyor.auth.permissions import Permission
from conveyor.core.errors import DomainError, NotFound
from conveyor.core.settings import Settings
from conveyor.notification import sink_reader
from conveyor.pages.documents import MAIL_BODY_CSP
from conveyor.pages.web import page_refusal, page_router, render, require_page

router = page_router()
MailViewer = Annotated[Principal, require_page(Permission.MAIL_VIEW)]
Name = Annotated[str, Path(max_length=40)]
Index = Annotated[int, Path(ge=1, le=100)]


def sink_shown(settings: Settings) -> bool:
    """The sink is read only in development, where `conveyor dev` runs it."""
    return settings.is_development and settings.dev_mail_sink


def _folder(settings: Settings) -> PathType:
    if not sink_shown(settings):
        raise NotFound("the local mail sink runs in development only")
    return settings.mail_sink_dir


@router.get("/outbox/sink", include_in_schema=False)
def sink_list(request: Request, state: StateDep, principal: MailViewer) -> Response:
    """Every message the local sink received, newest first."""
    try:
        found = sink_reader.messages(_folder(state.settings))
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)
    context = {"page": "outbox", "messages": found, "folder": state.settings.mail_sink_dir}
    return render(request, "mail_sink.html", context, principal=principal)


@router.get("/outbox/sink/{name}", include_in_schema=False)
def sink_message(name: Name, request: Request, state: StateDep, principal: MailViewer) -> Response:
    """One received message: headers, text, HTML (sandboxed) and attachments."""
    try:
        found = sink_reader.message(_folder(state.settings), name)
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)
    context = {"page": "outbox", "message": found}
    return render(request, "mail_sink_message.html", context, principal=principal)


@router.get("/outbox/sink/{name}/body.html", include_in_schema=False)
def sink_message_html(
    name: Name, request: Request, state: StateDep, principal: MailViewer
) -> Response:
    """The HTML body under a policy that runs and loads nothing (as the outbox shows it)."""
    try:
        found = sink_reader.message(_folder(state.settings), name)
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)
    return Response(
        found.html,
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": MAIL_BODY_CSP, "X-Frame-Options": "SAMEORIGIN"},
    )


@router.get("/outbox/sink/{name}/attachments/{index}", include_in_schema=False)
def sink_attachment(
    name: Name, index: Index, request: Request, state: StateDep, principal: MailViewer
) -> Response:
    """The message's attachment number `index`, as a download."""
    try:
        filename, content_type, content = sink_reader.attachment(
            _folder(state.settings), name, index - 1
        )
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)
    return Response(
        content,
        media_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
