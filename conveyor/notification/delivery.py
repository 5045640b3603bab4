"""Turn an outbox row into the e-mail the relay receives, and the SMTP client that sends it."""

from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib
from sqlmodel import Session

from conveyor.core.settings import Settings
from conveyor.invoice import pdf as invoice_pdf
from conveyor.invoice import service as invoice_service
from conveyor.notification.models import OutboxMessage
from conveyor.order import pdf as quote_pdf
from conveyor.order import service as order_service

# aiosmtplib's limit for each step of the conversation (connect, EHLO, MAIL, RCPT, DATA).
SMTP_TIMEOUT_SECONDS = 20
# What one delivery failure means: the relay refused, hung up, timed out or was unreachable, or
# the client refused an address it cannot send to safely (ValueError).
SMTP_ERRORS = (aiosmtplib.SMTPException, OSError, TimeoutError, ValueError)


def recipients(message: OutboxMessage) -> list[str]:
    """The addresses of a stored message."""
    return [r.strip() for r in message.recipients.split(",") if r.strip()]


def message_id(message: OutboxMessage) -> str:
    """The Message-ID header of a stored message, derived from its row.

    Every attempt at the same row carries the same Message-ID: should a send be repeated after a
    crash between the relay's answer and the commit that marks the row sent, receivers see the
    same Message-ID and can drop the copy.
    """
    return f"<outbox-{message.id}@conveyor>"


def build_email(*, session: Session, message: OutboxMessage, mail_from: str) -> EmailMessage:
    """The MIME message for a stored row: headers, text and HTML bodies, the referred document.

    The attachment is rendered again at each attempt from the document the row refers to.
    """
    email = EmailMessage()
    email["From"] = mail_from
    email["To"] = message.recipients
    email["Subject"] = message.subject
    email["Message-ID"] = message_id(message)
    # When the effect happened (the row was stored), the same at every attempt like the Message-ID.
    email["Date"] = format_datetime(message.created_at)
    email.set_content(message.body_text)
    email.add_alternative(message.body_html, subtype="html")
    document = _attachment(session=session, reference=message.attachment)
    if document is not None:
        name, content = document
        email.add_attachment(content, maintype="application", subtype="pdf", filename=name)
    return email


def smtp_client(settings: Settings) -> aiosmtplib.SMTP:
    """An unconnected client for the configured relay; one connection can send many messages."""
    return aiosmtplib.SMTP(
        hostname=settings.smtp_host, port=settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS
    )


def attached_document(*, session: Session, message: OutboxMessage) -> tuple[str, bytes] | None:
    """The (file name, PDF) the message carries, rendered as the mail attaches it; or None."""
    return _attachment(session=session, reference=message.attachment)


def _attachment(*, session: Session, reference: str | None) -> tuple[str, bytes] | None:
    """The (file name, PDF) a message refers to ("invoice:INV-2026-000001", "quote:SO-000042"),
    or None."""
    kind, _, number = (reference or "").partition(":")
    if kind == "invoice":
        invoice = invoice_service.get_by_number(session=session, number=number)
        if invoice is not None:
            return f"{number}.pdf", invoice_pdf.render(session=session, invoice=invoice)
    elif kind == "quote":
        order = order_service.get_by_number(session=session, number=number)
        if order is not None:
            return f"quote-{number}.pdf", quote_pdf.render(session=session, order=order)
    return None
