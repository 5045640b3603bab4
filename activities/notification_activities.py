"""Notification activity: render into the outbox once per key, then send through SMTP."""

import asyncio
from email.message import EmailMessage

import aiosmtplib
from sqlalchemy.engine import Engine
from temporalio import activity

from activities.common import load_order
from conveyor.core.db import session_scope
from conveyor.core.settings import Settings
from conveyor.invoice import pdf as invoice_pdf
from conveyor.invoice import service as invoice_service
from conveyor.notification import service as outbox_service
from conveyor.notification.models import OutboxMessage, OutboxStatus
from workflows.types import NotifyInput, NotifyResult

SMTP_TIMEOUT_SECONDS = 20


class NotificationActivities:
    """Sends e-mail; holds the database engine and the SMTP settings."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    @activity.defn
    async def send_notification(self, request: NotifyInput) -> NotifyResult:
        """Store the message under its key (first attempt only), then send it unless sent.

        The outbox row commits before the SMTP conversation, so a retry finds it and sends the
        same message (same Message-ID), and a message marked sent is never sent again.
        """
        message = await asyncio.to_thread(self._store, request)
        document = await asyncio.to_thread(self._attachment, message.attachment)
        if message.status == OutboxStatus.SENT:
            return NotifyResult("already_sent", _split(message.recipients))
        if message.status == OutboxStatus.SKIPPED:
            return NotifyResult("skipped")
        try:
            await aiosmtplib.send(
                self._email(message, document),
                hostname=self.settings.smtp_host,
                port=self.settings.smtp_port,
                timeout=SMTP_TIMEOUT_SECONDS,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            await asyncio.to_thread(self._failed, message.id or 0, str(exc))
            raise  # retried with backoff by the workflow's retry policy
        await asyncio.to_thread(self._sent, message.id or 0)
        return NotifyResult("sent", _split(message.recipients))

    def _store(self, request: NotifyInput) -> OutboxMessage:
        with session_scope(self.engine) as session:
            existing = outbox_service.get_by_key(session=session, key=request.key)
            if existing is not None:
                return existing
            return outbox_service.queue(
                session=session,
                key=request.key,
                kind=request.kind,
                order=load_order(session, request.order_number),
                app_url=self.settings.public_url,
                task_id=request.task_id,
                to_role=request.to_role,
                extra=request.extra,
            )

    def _sent(self, message_id: int) -> None:
        with session_scope(self.engine) as session:
            outbox_service.mark_sent(session=session, message_id=message_id)

    def _failed(self, message_id: int, error: str) -> None:
        with session_scope(self.engine) as session:
            outbox_service.record_failure(session=session, message_id=message_id, error=error)

    def _attachment(self, reference: str | None) -> tuple[str, bytes] | None:
        """The (file name, PDF) a message refers to; rendered again at each attempt."""
        if not reference or not reference.startswith("invoice:"):
            return None
        number = reference.removeprefix("invoice:")
        with session_scope(self.engine) as session:
            invoice = invoice_service.get_by_number(session=session, number=number)
            if invoice is None:
                return None
            return f"{number}.pdf", invoice_pdf.render(session=session, invoice=invoice)

    def _email(
        self, message: OutboxMessage, document: tuple[str, bytes] | None = None
    ) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.settings.mail_from
        email["To"] = message.recipients
        email["Subject"] = message.subject
        # Derived from the outbox key: should a send be repeated after a crash between the SMTP
        # answer and the commit, receivers see the same Message-ID and can drop the copy.
        email["Message-ID"] = f"<outbox-{message.id}@conveyor>"
        email.set_content(message.body_text)
        email.add_alternative(message.body_html, subtype="html")
        if document is not None:
            name, content = document
            email.add_attachment(content, maintype="application", subtype="pdf", filename=name)
        return email


def _split(recipients: str) -> list[str]:
    return [r.strip() for r in recipients.split(",") if r.strip()]
