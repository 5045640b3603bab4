"""Reading the local SMTP sink's folder (`conveyor dev`): the kept messages, newest first.

Names come from the sink (`<date>-<time>-<n>.eml`); anything else is refused, so a name from a
URL can never reach outside the folder.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import parsedate_to_datetime
from pathlib import Path

from conveyor.core.errors import NotFound

NAME = re.compile(r"^\d{8}-\d{6}-\d{5}\.eml$")
# The most messages the list shows (the newest); the folder itself keeps them all.
LIST_LIMIT = 500


@dataclass(frozen=True)
class SinkMessage:
    """One kept message as the pages show it."""

    name: str
    to: str
    sender: str
    subject: str
    date: datetime | None
    text: str
    html: str
    attachments: list[tuple[str, str]]  # (file name, content type)


def _date(mail: EmailMessage) -> datetime | None:
    try:
        value = parsedate_to_datetime(str(mail["Date"])) if mail["Date"] else None
    except (TypeError, ValueError):
        return None
    return value.astimezone(UTC) if value and value.tzinfo else value


def _body(mail: EmailMessage, kind: str) -> str:
    part = mail.get_body(preferencelist=(kind,))
    return part.get_content() if part is not None else ""


def _read(path: Path) -> SinkMessage:
    mail = message_from_bytes(path.read_bytes(), policy=default_policy)
    assert isinstance(mail, EmailMessage)
    attachments = [
        (part.get_filename() or "attachment", part.get_content_type())
        for part in mail.iter_attachments()
    ]
    return SinkMessage(
        name=path.name,
        to=str(mail["To"] or ""),
        sender=str(mail["From"] or ""),
        subject=str(mail["Subject"] or ""),
        date=_date(mail),
        text=_body(mail, "plain"),
        html=_body(mail, "html"),
        attachments=attachments,
    )


def messages(folder: Path, *, limit: int = LIST_LIMIT) -> list[SinkMessage]:
    """The newest `limit` messages in the folder, newest first (none when it does not exist)."""
    if not folder.is_dir():
        return []
    names = sorted((p for p in folder.glob("*.eml") if NAME.match(p.name)), reverse=True)
    return [_read(path) for path in names[:limit]]


def message(folder: Path, name: str) -> SinkMessage:
    """The kept message of that name; NotFound for another name or a missing file."""
    path = folder / name
    if not NAME.match(name) or not path.is_file():
        raise NotFound(f"no kept message {name}")
    return _read(path)


def attachment(folder: Path, name: str, index: int) -> tuple[str, str, bytes]:
    """The message's `index`-th attachment: (file name, content type, bytes); NotFound if none."""
    message(folder, name)  # the name check
    mail = message_from_bytes((folder / name).read_bytes(), policy=default_policy)
    assert isinstance(mail, EmailMessage)
    parts = list(mail.iter_attachments())
    if not 0 <= index < len(parts):
        raise NotFound(f"message {name} has no attachment {index + 1}")
    part = parts[index]
    content = part.get_payload(decode=True)
    assert isinstance(content, bytes)
    return part.get_filename() or "attachment", part.get_content_type(), content
