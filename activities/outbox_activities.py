"""The outbox dispatcher's activity: claim due outbox rows in batches and send them through SMTP."""

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

import aiosmtplib
from sqlalchemy.engine import Engine
from temporalio import activity

from activities.common import sleep_unless_shutdown
from conveyor.core.backoff import Backoff
from conveyor.core.db import session_scope
from conveyor.core.models import utcnow
from conveyor.core.settings import Settings
from conveyor.notification import delivery
from conveyor.notification import service as outbox_service
from conveyor.notification.models import OutboxMessage

BATCH_SIZE = 20
# A claim keeps other dispatchers off a batch this long; a message is only started while its
# whole conversation fits in what is left, so no row is ever sent by two dispatchers at once.
LEASE_SECONDS = 60.0
SEND_SECONDS = 30.0  # the most one message may take, end to end (each step has its own limit)
FIRST_RETRY_SECONDS = 2.0
HEARTBEAT_EVERY_SECONDS = 1.0


@dataclass
class DrainOutboxInput:
    seconds: float  # how long this attempt drains before it returns (then: continue-as-new)


@dataclass
class DrainOutboxResult:
    sent: int = 0
    failed: int = 0  # failed attempts; those messages wait for their backoff and are tried again


@dataclass
class _Claim:
    messages: list[OutboxMessage]
    lease_until: datetime  # as stored on the rows (compared when releasing them)
    ends: float  # the same moment on the event loop's clock, a little early


class OutboxActivities:
    """Sends the outbox's pending mail; holds the database engine and the SMTP settings."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.backoff = Backoff(
            initial_seconds=FIRST_RETRY_SECONDS, maximum_seconds=settings.outbox_retry_max_seconds
        )

    @activity.defn
    async def drain_outbox(self, request: DrainOutboxInput) -> DrainOutboxResult:
        """Send due outbox rows for `request.seconds`, polling while there are none.

        Each batch is claimed in its own short transaction, then sent over one SMTP connection;
        each accepted message is marked sent in its own commit right after the relay's answer.
        A refused or unreachable relay counts an attempt and backs the message off. The activity
        heartbeats throughout, so a killed worker's attempt is retried on another worker after
        the heartbeat timeout; the rows it had claimed are due again when their lease ends.
        A worker shutting down (SIGTERM) ends the drain early, after the message in flight: the
        activity completes, and the next run drains on another worker.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + request.seconds
        result = DrainOutboxResult()
        beating = asyncio.create_task(_heartbeat_forever(result))
        try:
            while loop.time() < deadline and not activity.is_worker_shutdown():
                ends = loop.time() + LEASE_SECONDS
                claiming = asyncio.ensure_future(asyncio.to_thread(self._claim))
                try:
                    messages, lease_until = await asyncio.shield(claiming)
                except asyncio.CancelledError:
                    # The claim commits in its thread anyway: hand its rows back at once.
                    messages, lease_until = await claiming
                    await asyncio.to_thread(self._release, messages, lease_until)
                    raise
                claim = _Claim(messages, lease_until, ends)
                if not claim.messages:
                    await sleep_unless_shutdown(self.settings.outbox_poll_seconds)
                    continue
                await self._send_batch(claim, result)
        finally:
            beating.cancel()
        return result

    async def _send_batch(self, claim: _Claim, result: DrainOutboxResult) -> None:
        loop = asyncio.get_running_loop()
        smtp = delivery.smtp_client(self.settings)
        pending = list(claim.messages)
        try:
            try:
                async with asyncio.timeout(SEND_SECONDS):
                    await smtp.connect()
            except delivery.SMTP_ERRORS as exc:
                # The relay is unreachable: every message of the batch fails the same way.
                await asyncio.to_thread(self._failed, pending, _describe(exc))
                result.failed += len(pending)
                pending = []
            emails = await asyncio.to_thread(self._emails, pending) if pending else {}
            while pending:
                if loop.time() + SEND_SECONDS > claim.ends:
                    break  # the lease could end mid-send; the rest goes to the next claim
                if activity.is_worker_shutdown():
                    break  # the rest is released for the next drain, on another worker
                message = pending.pop(0)
                # A cancel (worker shutdown) waits for the message in flight, so that a message
                # the relay accepted is also marked sent before the activity gives up.
                sending = asyncio.ensure_future(self._send_one(smtp, message, emails[message.id]))
                try:
                    sent = await asyncio.shield(sending)
                except asyncio.CancelledError:
                    await sending
                    raise
                if sent:
                    result.sent += 1
                else:
                    result.failed += 1
        finally:
            if pending:
                await asyncio.to_thread(self._release, pending, claim.lease_until)
            with contextlib.suppress(*delivery.SMTP_ERRORS):
                if smtp.is_connected:
                    await smtp.quit()
            smtp.close()

    async def _send_one(
        self, smtp: aiosmtplib.SMTP, message: OutboxMessage, email: EmailMessage
    ) -> bool:
        """Send one claimed message; True once it is accepted and marked sent."""
        try:
            async with asyncio.timeout(SEND_SECONDS):
                if not smtp.is_connected:
                    await smtp.connect()
                await smtp.send_message(email)
        except delivery.SMTP_ERRORS as exc:
            # A refusal leaves the connection usable; after a timeout or a broken pipe its state
            # is unknown: reconnect. (Such an answer lost after the message was handed over may
            # hide an acceptance; the message then goes out again, with the same Message-ID.)
            if smtp.is_connected and not isinstance(exc, aiosmtplib.SMTPResponseException):
                smtp.close()
            await asyncio.to_thread(self._failed, [message], _describe(exc))
            return False
        # Accepted by the relay: mark it sent at once, in its own commit. A crash between the
        # relay's answer and this commit is the one way a message goes out twice.
        await asyncio.to_thread(self._sent, message.id or 0)
        return True

    def _claim(self) -> tuple[list[OutboxMessage], datetime]:
        now = utcnow()
        lease_until = now + timedelta(seconds=LEASE_SECONDS)
        with session_scope(self.engine) as session:
            messages = outbox_service.claim_due(
                session=session, now=now, lease_until=lease_until, limit=BATCH_SIZE
            )
        return messages, lease_until

    def _release(self, messages: list[OutboxMessage], lease_until: datetime) -> None:
        if not messages:
            return
        with session_scope(self.engine) as session:
            outbox_service.release(
                session=session, message_ids=[m.id or 0 for m in messages], lease_until=lease_until
            )

    def _emails(self, messages: list[OutboxMessage]) -> dict[int | None, EmailMessage]:
        # One session for the batch; it only reaches the database for a message's attachment.
        with session_scope(self.engine) as session:
            return {
                m.id: delivery.build_email(
                    session=session, message=m, mail_from=self.settings.sender
                )
                for m in messages
            }

    def _sent(self, message_id: int) -> None:
        with session_scope(self.engine) as session:
            outbox_service.mark_sent(session=session, message_id=message_id)

    def _failed(self, messages: list[OutboxMessage], error: str) -> None:
        with session_scope(self.engine) as session:
            for message in messages:
                outbox_service.record_failure(
                    session=session, message_id=message.id or 0, error=error, backoff=self.backoff
                )


def _describe(error: BaseException) -> str:
    return str(error) or type(error).__name__


async def _heartbeat_forever(result: DrainOutboxResult) -> None:
    # Apart from the loop, so a slow SMTP conversation never looks like a dead worker (the SDK
    # throttles what reaches the server to a fraction of the heartbeat timeout).
    while True:
        activity.heartbeat(result.sent)
        await asyncio.sleep(HEARTBEAT_EVERY_SECONDS)
