"""Notification activity: render into the outbox once per key, then send through SMTP."""

import asyncio
from email.message import EmailMessage

from sqlalchemy.engine import Engine
from temporalio import activity

from activities.common import load_order
from conveyor.core.db import session_scope
from conveyor.core.settings import Settings
from conveyor.notification import delivery
from conveyor.notification import service as outbox_service
from conveyor.notification.models import OutboxMessage, OutboxStatus
from workflows.types import NotifyInput, NotifyResult


class NotificationActivities:
    """Sends e-mail; holds the database engine and the SMTP settings."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    @activity.defn
    async def send_notification(self, request: NotifyInput) -> NotifyResult:
        """Store the message under its key (first attempt only), then send it unless sent.

        The outbox row commits before the SMTP conversation, so a retry finds it and sends the
        same message (same Message-ID), and a message marked sent is never sent again. The row
        is stored for this activity alone (`dispatch=False`): the outbox dispatcher leaves it be.
        A row under the same key that the dispatcher owns is left to the dispatcher.
        """
        message = await asyncio.to_thread(self._store, request)
        if message.status == OutboxStatus.SENT:
            return NotifyResult("already_sent", delivery.recipients(message))
        if message.status == OutboxStatus.SKIPPED:
            return NotifyResult("skipped")
        if message.dispatch:
            return NotifyResult("queued", delivery.recipients(message))
        email = await asyncio.to_thread(self._email, message)
        try:
            async with delivery.smtp_client(self.settings) as smtp:
                await smtp.send_message(email)
        except delivery.SMTP_ERRORS as exc:
            await asyncio.to_thread(self._failed, message.id or 0, str(exc))
            raise  # retried with backoff by the workflow's retry policy
        await asyncio.to_thread(self._sent, message.id or 0)
        return NotifyResult("sent", delivery.recipients(message))

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
                dispatch=False,
            )

    def _sent(self, message_id: int) -> None:
        with session_scope(self.engine) as session:
            outbox_service.mark_sent(session=session, message_id=message_id)

    def _failed(self, message_id: int, error: str) -> None:
        with session_scope(self.engine) as session:
            outbox_service.record_failure(session=session, message_id=message_id, error=error)

    def _email(self, message: OutboxMessage) -> EmailMessage:
        with session_scope(self.engine) as session:
            return delivery.build_email(
                session=session, message=message, mail_from=self.settings.sender
            )
