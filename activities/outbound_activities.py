"""The outbound dispatcher's activity: claim due webhook deliveries and POST them, signed, and
tell stores of their orders' shipments and cancellations (store feedback), with the same lease,
backoff and retry window."""

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.engine import Engine
from temporalio import activity

from activities.common import sleep_unless_shutdown
from conveyor.core.backoff import Backoff
from conveyor.core.db import session_scope
from conveyor.core.models import utcnow
from conveyor.core.settings import Settings
from conveyor.outbound import service as outbound_service
from conveyor.outbound import signing
from conveyor.storefeedback import service as feedback_service
from conveyor.storefeedback import stores
from conveyor.webhook import connections

BATCH_SIZE = 20
# A claim keeps other dispatchers off a batch this long: longer than a batch's POSTs may take
# (each at most `outbound_timeout_seconds`, at most 60 s, end to end, all at once), so no
# delivery is sent by two dispatchers at once; a dead worker's claims are due again after it.
LEASE_SECONDS = 150.0
HEARTBEAT_EVERY_SECONDS = 1.0
MAX_ERROR_BODY = 300  # of a refusal's answer, kept in the delivery log


@dataclass
class DrainOutboundInput:
    seconds: float  # how long this attempt drains before it returns (then: continue-as-new)


@dataclass
class DrainOutboundResult:
    delivered: int = 0
    failed: int = 0  # failed attempts; those deliveries wait for their backoff


@dataclass(frozen=True)
class _Attempt:
    """One claimed delivery, read out of its session: what to POST where."""

    delivery_id: int
    url: str
    body: bytes
    secret: str
    event_id: str
    event_type: str


class OutboundActivities:
    """POSTs due webhook deliveries; holds the database engine and the retry settings."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.backoff = Backoff(
            initial_seconds=settings.outbound_first_retry_seconds,
            maximum_seconds=settings.outbound_retry_max_seconds,
        )
        self.retry_window = timedelta(hours=settings.outbound_retry_hours)

    @activity.defn
    async def drain_outbound(self, request: DrainOutboundInput) -> DrainOutboundResult:
        """POST due deliveries for `request.seconds`, polling while there are none.

        Each batch is claimed in its own short transaction and sent concurrently; each answer is
        recorded in its own commit (2xx: delivered; anything else, or no answer in time: an
        attempt counted and a backoff). At least once: a worker killed between a subscriber's
        2xx and that commit sends the event again after the lease (same `Conveyor-Event-Id`).
        A worker shutting down ends the drain early, once the POSTs in flight are recorded.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + request.seconds
        result = DrainOutboundResult()
        timeout = httpx.Timeout(self.settings.outbound_timeout_seconds)
        beating = asyncio.create_task(_heartbeat_forever(result))
        try:
            await asyncio.to_thread(self.purge)  # once a drain (its 300 s): cheap when nothing
            async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
                while loop.time() < deadline and not activity.is_worker_shutdown():
                    claiming = asyncio.ensure_future(asyncio.to_thread(self._claim))
                    try:
                        attempts, feedback, lease_until = await asyncio.shield(claiming)
                    except asyncio.CancelledError:
                        attempts, feedback, lease_until = await claiming
                        await asyncio.to_thread(self._release, attempts, feedback, lease_until)
                        raise
                    if not attempts and not feedback:
                        await sleep_unless_shutdown(self.settings.outbound_poll_seconds)
                        continue
                    # A cancel (worker shutdown) waits for the POSTs in flight and their records.
                    sending = asyncio.ensure_future(
                        asyncio.gather(
                            *(self._send(client, a) for a in attempts),
                            *(self._tell(client, f) for f in feedback),
                        )
                    )
                    try:
                        outcomes = await asyncio.shield(sending)
                    except asyncio.CancelledError:
                        await sending
                        raise
                    result.delivered += sum(outcomes)
                    result.failed += len(outcomes) - sum(outcomes)
        finally:
            beating.cancel()
        return result

    async def _send(self, client: httpx.AsyncClient, attempt: _Attempt) -> bool:
        """POST one delivery and record the answer; True when the subscriber took it (2xx)."""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Conveyor-Webhooks/1",
            signing.SIGNATURE_HEADER: signing.signature(
                attempt.secret, attempt.body, int(utcnow().timestamp())
            ),
            signing.EVENT_ID_HEADER: attempt.event_id,
            signing.EVENT_TYPE_HEADER: attempt.event_type,
        }
        try:
            # The whole exchange is bounded (httpx's timeouts are per read and write), and of
            # the answer only the status and the start of a refusal's body are read.
            async with asyncio.timeout(self.settings.outbound_timeout_seconds):
                async with client.stream(
                    "POST", attempt.url, content=attempt.body, headers=headers
                ) as response:
                    status_code = response.status_code
                    answer = b""
                    if not 200 <= status_code < 300:
                        async for chunk in response.aiter_bytes():
                            answer += chunk
                            if len(answer) >= MAX_ERROR_BODY:
                                break
        except (httpx.HTTPError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            await asyncio.to_thread(self._failed, attempt.delivery_id, None, error)
            return False
        if 200 <= status_code < 300:
            await asyncio.to_thread(self._delivered, attempt.delivery_id, status_code)
            return True
        text = answer[:MAX_ERROR_BODY].decode("utf-8", "replace")
        error = f"HTTP {status_code}: {text}" if text else f"HTTP {status_code}"
        await asyncio.to_thread(self._failed, attempt.delivery_id, status_code, error)
        return False

    async def _tell(self, client: httpx.AsyncClient, feedback: stores.Feedback) -> bool:
        """Tell a store one thing and record its answer; True when the store has it."""
        store = connections.by_name(self.settings, feedback.store)
        answer = await stores.tell(client, store, feedback, self.settings.outbound_timeout_seconds)
        await asyncio.to_thread(self._told, feedback.id, answer)
        return answer.error is None

    def _told(self, feedback_id: int, answer: stores.Answer) -> None:
        with session_scope(self.engine) as session:
            if answer.error is None:
                feedback_service.mark_sent(
                    session=session,
                    feedback_id=feedback_id,
                    status_code=answer.status_code or 0,
                    already=answer.already,
                )
            else:
                feedback_service.record_failure(
                    session=session,
                    feedback_id=feedback_id,
                    status_code=answer.status_code,
                    error=answer.error,
                    backoff=self.backoff,
                    retry_window=self.retry_window,
                )

    def _claim(self) -> tuple[list[_Attempt], list[stores.Feedback], datetime]:
        now = utcnow()
        lease_until = now + timedelta(seconds=LEASE_SECONDS)
        with session_scope(self.engine) as session:
            rows = outbound_service.claim_due(
                session=session, now=now, lease_until=lease_until, limit=BATCH_SIZE
            )
            attempts = [
                _Attempt(
                    delivery_id=delivery.id or 0,
                    url=subscription.url,
                    body=outbound_service.body(event),
                    secret=subscription.secret,
                    event_id=event.event_id,
                    event_type=event.type,
                )
                for delivery, event, subscription in rows
            ]
            claimed = feedback_service.claim_due(
                session=session, now=now, lease_until=lease_until, limit=BATCH_SIZE
            )
            feedback = [
                stores.Feedback(
                    id=row.id or 0,
                    key=row.key,
                    store=row.store,
                    provider=row.provider,
                    external_id=row.external_id,
                    action=row.action,
                    payload=row.payload,
                )
                for row in claimed
            ]
        return attempts, feedback, lease_until

    def _release(
        self, attempts: list[_Attempt], feedback: list[stores.Feedback], lease_until: datetime
    ) -> None:
        if not attempts and not feedback:
            return
        with session_scope(self.engine) as session:
            outbound_service.release(
                session=session,
                delivery_ids=[a.delivery_id for a in attempts],
                lease_until=lease_until,
            )
            feedback_service.release(
                session=session, ids=[f.id for f in feedback], lease_until=lease_until
            )

    def purge(self) -> int:
        """Delete what is past `outbound_retention_seconds`: delivered webhooks, their events,
        store feedback the stores took; in batches, each its own commit. How many rows went."""
        deleted = 0
        for purge in (outbound_service.purge, feedback_service.purge):
            while True:
                with session_scope(self.engine) as session:
                    gone = purge(
                        session=session,
                        now=utcnow(),
                        retention_seconds=self.settings.outbound_retention_seconds,
                    )
                deleted += gone
                if gone < outbound_service.PURGE_BATCH:
                    break
        return deleted

    def _delivered(self, delivery_id: int, status_code: int) -> None:
        with session_scope(self.engine) as session:
            outbound_service.mark_delivered(
                session=session, delivery_id=delivery_id, status_code=status_code
            )

    def _failed(self, delivery_id: int, status_code: int | None, error: str) -> None:
        with session_scope(self.engine) as session:
            outbound_service.record_failure(
                session=session,
                delivery_id=delivery_id,
                status_code=status_code,
                error=error,
                backoff=self.backoff,
                retry_window=self.retry_window,
            )


async def _heartbeat_forever(result: DrainOutboundResult) -> None:
    while True:
        activity.heartbeat(result.delivered)
        await asyncio.sleep(HEARTBEAT_EVERY_SECONDS)
