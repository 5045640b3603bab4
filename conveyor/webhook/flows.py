"""Webhook flows: verify, store the delivery, act on it (order, update, cancel, payment), answer.

The delivery is committed before anything acts on it, and the answer goes out only after what it
asked for is durably recorded (the order row, the payment). A new order is answered as soon as it
and its delivery are committed in one transaction: its workflow is started off the request path
(the order flows' starter, then the API's sweep). Signals and updates come after the commit.
"""

import asyncio
import contextlib
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlmodel import Session
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.service import RPCError

from conveyor.audit import service as audit_service
from conveyor.audit.service import Actor
from conveyor.core.db import RETRY_AFTER_SECONDS, outage, session_scope
from conveyor.core.errors import Conflict, NotFound
from conveyor.core.models import row_id
from conveyor.core.state import AppState, in_intake_session
from conveyor.order import flows as order_flows
from conveyor.order import service as order_service
from conveyor.order.enums import OrderStatus
from conveyor.order.models import SalesOrder
from conveyor.webhook import connections, shopify, stripe, woocommerce
from conveyor.webhook import service as webhook_service
from conveyor.webhook.connections import ConnectionsError, StoreConnection
from conveyor.webhook.models import Outcome, WebhookAck, WebhookDelivery
from conveyor.webhook.payloads import PayloadError, PaymentIn, StoreOrderIn, parse_json
from conveyor.webhook.signatures import SignatureError, verify_base64_hmac, verify_stripe
from workflows.types import CancelRequest, CancelResult, SalesOrderNames

log = logging.getLogger(__name__)
T = TypeVar("T")
STORE_MODULES = {"shopify": shopify, "woocommerce": woocommerce}
# How long a store cancellation waits for the compensation before answering (it goes on anyway).
CANCEL_WAIT_SECONDS = 1.0
STATUS = {
    Outcome.REJECTED: 401,
    Outcome.MALFORMED: 400,
    Outcome.FAILED: 500,
}
# Refused deliveries are counted and written one at a time per process, so a source cannot
# slip past its limit with parallel requests (several processes may each let one more in).
_REFUSED_WRITES = threading.Lock()


@dataclass
class Answer:
    """The HTTP status and body a delivery is answered with (429: `retry_after` seconds)."""

    status: int
    ack: WebhookAck
    retry_after: int | None = None


class ReplayRefusedError(Conflict):
    """The delivery cannot be replayed (unsigned, or its store is gone)."""


class DeliveryNotFoundError(NotFound, LookupError):
    """No delivery has that id (a LookupError too, as callers caught before)."""


async def _db(state: AppState, work: Callable[[Session], T]) -> T:
    def run() -> T:
        with session_scope(state.engine) as session:
            return work(session)

    return await asyncio.to_thread(run)


async def _read(state: AppState, work: Callable[[Session], T]) -> T:
    def run() -> T:
        with session_scope(state.read_engine) as session:
            return work(session)

    return await asyncio.to_thread(run)


def _answer(delivery: WebhookDelivery) -> Answer:
    ack = WebhookAck(
        delivery=delivery.id or 0,
        outcome=delivery.outcome,
        order_number=delivery.order_number,
        detail=delivery.detail,
    )
    return Answer(STATUS.get(Outcome(delivery.outcome), 200), ack)


async def _finish(
    state: AppState, delivery_id: int, outcome: Outcome, detail: str = "", **kw: Any
) -> Answer:
    delivery = await _db(
        state,
        lambda s: webhook_service.finish(
            session=s, delivery_id=delivery_id, outcome=outcome, detail=detail, **kw
        ),
    )
    return _answer(delivery)


# ---- receiving ------------------------------------------------------------------------------


def _verify(
    state: AppState, provider: str, headers: dict[str, str], body: bytes
) -> tuple[StoreConnection, str | None, str | None]:
    """(store, topic, delivery id) of a genuinely signed delivery; SignatureError otherwise."""
    stores = connections.for_provider(state.settings, provider)
    now = connections.now()
    if provider == "stripe":
        store = verify_stripe(
            body,
            headers.get(stripe.SIGNATURE_HEADER),
            stores,
            now=now,
            tolerance_seconds=state.settings.stripe_tolerance_seconds,
        )
        return store, None, None  # both are in the (signed) body
    module = STORE_MODULES[provider]
    store = verify_base64_hmac(
        body,
        headers.get(module.SIGNATURE_HEADER),
        stores,
        header=module.SIGNATURE_HEADER,
        now=now,
        domain=headers.get(module.DOMAIN_HEADER),
    )
    delivery_id = next((headers[h] for h in module.DELIVERY_HEADERS if headers.get(h)), None)
    return store, headers.get(module.TOPIC_HEADER), delivery_id


def _too_old(state: AppState, module: Any, headers: dict[str, str], body: bytes) -> str | None:
    """Why a signed store delivery is refused as a replay (triggered too long ago), or None."""
    triggered = module.triggered_at(headers, body)
    if triggered is None:
        return None  # nothing says when: the dedupe and the update order still apply
    window = state.settings.webhook_max_age_seconds
    if (connections.now() - triggered).total_seconds() <= window:
        return None
    return f"triggered at {triggered.isoformat()}, over {window:.0f} s ago: refused as a replay"


async def _refuse(
    state: AppState,
    *,
    provider: str,
    headers: dict[str, str],
    body: bytes,
    source: str | None,
    outcome: Outcome,
    detail: str,
    **fields: Any,
) -> Answer:
    """Note a refused delivery (metadata only), or answer 429 beyond the source's limit."""
    settings = state.settings
    window, limit = settings.webhook_refused_window_seconds, settings.webhook_refused_limit

    def wait(session: Session) -> int | None:
        now = connections.now()
        count, oldest = webhook_service.refused_since(
            session=session, source=source, since=now - timedelta(seconds=window)
        )
        if count < limit:
            return None
        free = (oldest + timedelta(seconds=window) - now).total_seconds() if oldest else window
        return max(1, math.ceil(free))

    def write() -> tuple[WebhookDelivery | None, int | None]:
        with _REFUSED_WRITES, session_scope(state.engine) as session:
            seconds = wait(session)  # again, now that no other refusal of ours is on the way
            if seconds is not None:
                return None, seconds
            return webhook_service.record_refused(
                session=session,
                provider=provider,
                headers=headers,
                body_size=len(body),
                source=source,
                outcome=outcome,
                detail=detail,
                **fields,
            ), None

    # Over the limit: read only (no write lock, nothing stored).
    seconds = await _read(state, wait)
    delivery = None
    if seconds is None:
        delivery, seconds = await asyncio.to_thread(write)
    if delivery is None:
        message = f"too many refused deliveries from this address; retry in {seconds} s"
        ack = WebhookAck(delivery=0, outcome=outcome, detail=message)
        return Answer(429, ack, retry_after=seconds)
    return _answer(delivery)


def _duplicate(delivery: WebhookDelivery) -> Answer:
    """The answer to a repeat of a delivery already dealt with: 200, nothing done again."""
    detail = (
        f"delivery {delivery.delivery_id} was received already (#{delivery.id}, "
        f"{delivery.outcome}); not acted on again"
    )
    ack = WebhookAck(
        delivery=delivery.id or 0,
        outcome=Outcome.DUPLICATE,
        order_number=delivery.order_number,
        detail=detail,
    )
    return Answer(200, ack)


def _in_flight(delivery: WebhookDelivery) -> Answer:
    """The answer to a repeat of a delivery stored but not yet acted on: 503, retry later.

    Its first attempt may still be running, or may have died with its process; a 200 here
    would make the provider stop retrying, and a delivery whose attempt died would wait for
    a person's replay. The provider's retry after the retake window takes it over.
    """
    wait = webhook_service.RETAKE_RECEIVED_AFTER_SECONDS
    detail = (
        f"delivery {delivery.delivery_id} is being processed (#{delivery.id}); "
        f"retry in {wait} s if it is not answered as done by then"
    )
    ack = WebhookAck(delivery=delivery.id or 0, outcome=Outcome.RECEIVED, detail=detail)
    return Answer(503, ack, retry_after=wait)


async def receive(
    state: AppState,
    *,
    provider: str,
    headers: dict[str, str],
    body: bytes,
    source: str | None = None,
) -> Answer:
    """Handle one delivery to `/webhooks/<provider>` (headers with lower-case names) from the
    client address `source`."""
    source = (source or "unknown")[:64]
    refuse = {"provider": provider, "headers": headers, "body": body, "source": source}
    module = STORE_MODULES.get(provider)
    if provider == "woocommerce" and woocommerce.is_ping(body, headers):
        return await _refuse(
            state, **refuse, outcome=Outcome.PING, detail="WooCommerce webhook ping", topic="ping"
        )
    try:
        store, topic, delivery_ref = _verify(state, provider, headers, body)
    except (SignatureError, ConnectionsError) as exc:
        if isinstance(exc, ConnectionsError):
            log.error("webhook configuration: %s", exc)
        detail = str(exc) if isinstance(exc, SignatureError) else "webhook configuration is invalid"
        topic = headers.get(module.TOPIC_HEADER) if module is not None else None
        return await _refuse(state, **refuse, outcome=Outcome.REJECTED, detail=detail, topic=topic)
    if module is not None:
        stale = _too_old(state, module, headers, body)
        if stale:
            return await _refuse(
                state,
                **refuse,
                outcome=Outcome.REJECTED,
                detail=stale,
                topic=topic,
                store=store.name,
                signature_valid=True,
            )
    else:
        delivery_ref = stripe.event_id(body)
    fields: dict[str, Any] = {
        "provider": provider,
        "headers": headers,
        "body": body,
        "store": store.name,
        "delivery_id": delivery_ref,
        "topic": topic,
        "signature_valid": True,
        "source": source,
    }
    if module is not None and topic in module.CREATE_TOPICS:
        return await _receive_order(state, store, module, fields)
    delivery, act = await _db(
        state, lambda s: webhook_service.claim_delivery(session=s, now=connections.now(), **fields)
    )
    if not act:
        return (
            _in_flight(delivery) if delivery.outcome == Outcome.RECEIVED else _duplicate(delivery)
        )
    return await process(state, delivery=delivery, store=store)


async def _receive_order(
    state: AppState, store: StoreConnection, module: Any, fields: dict[str, Any]
) -> Answer:
    """The common case, a new store order: delivery, order and outcome in one transaction."""
    try:
        order_in = module.map_order(parse_json(fields["body"]))
    except PayloadError as exc:
        return await _record(state, fields, Outcome.MALFORMED, str(exc))
    try:
        return await _create(state, None, store, order_in, new_delivery=fields)
    except Exception as exc:  # rolled back; the delivery is still kept, as failed
        log.exception("webhook delivery from %s failed", store.name)
        failed = await _record(state, fields, Outcome.FAILED, f"{type(exc).__name__}: {exc}")
        return _unavailable(failed, exc)


async def _record(state: AppState, fields: dict[str, Any], outcome: Outcome, detail: str) -> Answer:
    delivery = await _db(
        state,
        lambda s: webhook_service.record_outcome(
            session=s, fields=fields, outcome=outcome, detail=detail
        ),
    )
    return _answer(delivery)


async def replay(state: AppState, *, delivery_id: int, actor: Actor) -> Answer:
    """Act on a stored, genuinely signed delivery again (idempotent like a provider's retry)."""

    def load(session: Session) -> WebhookDelivery:
        delivery = webhook_service.get(session=session, delivery_id=delivery_id)
        if delivery is None:
            raise DeliveryNotFoundError(f"delivery {delivery_id} not found")
        if not delivery.signature_valid:
            raise ReplayRefusedError("only deliveries with a valid signature can be replayed")
        if delivery.outcome in webhook_service.REFUSED_OUTCOMES:
            raise ReplayRefusedError("the delivery was refused; its body was not kept")
        delivery.replays += 1
        session.add(delivery)
        audit_service.record(
            session,
            actor=actor,
            action="webhook.replay",
            entity="webhook_delivery",
            entity_id=delivery.id,
            after={"replays": delivery.replays, "provider": delivery.provider},
        )
        return delivery

    delivery = await _db(state, load)
    store = connections.by_name(state.settings, delivery.store)
    if store is None or store.kind != delivery.provider:
        raise ReplayRefusedError(f"store {delivery.store} is no longer configured")
    return await process(state, delivery=delivery, store=store)


async def process(state: AppState, *, delivery: WebhookDelivery, store: StoreConnection) -> Answer:
    """Act on a stored delivery and record the outcome; our own errors answer 500 (retried)."""
    assert delivery.id is not None
    try:
        payload = parse_json(delivery.body)
        if delivery.provider == "stripe":
            return await _stripe_event(state, delivery, payload)
        return await _store_event(state, delivery, store, payload)
    except PayloadError as exc:
        return await _finish(state, delivery.id, Outcome.MALFORMED, str(exc))
    except Exception as exc:  # recorded, answered 500, and the provider retries
        log.exception("webhook delivery %s failed", delivery.id)
        failed = await _finish(state, delivery.id, Outcome.FAILED, f"{type(exc).__name__}: {exc}")
        return _unavailable(failed, exc)


def _unavailable(failed: Answer, exc: Exception) -> Answer:
    """A failure the database caused (busy, or a connection cut) answers 503 with the reason
    and Retry-After instead of 500; the provider retries either way."""
    message = outage(exc)
    if message is None:
        return failed
    ack = failed.ack.model_copy(update={"detail": message})
    return replace(failed, status=503, ack=ack, retry_after=RETRY_AFTER_SECONDS)


# ---- purge ----------------------------------------------------------------------------------


async def purge_deliveries(state: AppState) -> int:
    """Delete what the retention settings let go, in small transactions; how many went."""
    settings = state.settings
    retention = settings.webhook_retention_seconds
    if retention is not None:  # the dedupe needs a delivery while it could still come again
        retention = max(retention, settings.webhook_max_age_seconds)
    total = 0
    while True:
        deleted = await _db(
            state,
            lambda s: webhook_service.purge(
                session=s,
                now=connections.now(),
                refused_retention_seconds=settings.webhook_refused_retention_seconds,
                retention_seconds=retention,
            ),
        )
        total += deleted
        if deleted < webhook_service.PURGE_BATCH:
            return total


async def purge_periodically(state: AppState) -> None:
    """The API's purge of old deliveries, every `webhook_purge_interval_seconds` (a task)."""
    while True:
        try:
            deleted = await purge_deliveries(state)
            if deleted:
                log.info("purged %d old webhook deliveries", deleted)
        except Exception:
            log.warning("webhook delivery purge failed", exc_info=True)
        await asyncio.sleep(state.settings.webhook_purge_interval_seconds)


# ---- store orders ---------------------------------------------------------------------------


async def _store_event(
    state: AppState, delivery: WebhookDelivery, store: StoreConnection, payload: Any
) -> Answer:
    module = STORE_MODULES[delivery.provider]
    topic = delivery.topic or ""
    assert delivery.id is not None
    if topic in module.CREATE_TOPICS:
        return await _create(state, delivery.id, store, module.map_order(payload))
    if topic in module.UPDATE_TOPICS:
        order_in = module.map_order(payload)
        if order_in.cancelled:
            return await _cancel(
                state, delivery.id, store, order_in.external_id, order_in.updated_at
            )
        return await _update(state, delivery.id, store, order_in)
    if topic in module.CANCEL_TOPICS:
        return await _cancel(
            state, delivery.id, store, module.order_id(payload), module.updated_at(payload)
        )
    return await _finish(
        state, delivery.id, Outcome.IGNORED, f"topic {topic or '(none)'} is not handled"
    )


async def _create(
    state: AppState,
    delivery_id: int | None,
    store: StoreConnection,
    order_in: StoreOrderIn,
    *,
    new_delivery: dict[str, Any] | None = None,
) -> Answer:
    def record(session: Session) -> tuple[SalesOrder | None, WebhookDelivery]:
        if delivery_id is None:
            assert new_delivery is not None
            stored, act = webhook_service.claim_delivery(
                session=session, now=connections.now(), **new_delivery
            )
            if not act:  # the same delivery again: nothing to do
                return None, stored
        else:
            stored = None
        order, created = webhook_service.import_order(
            session=session,
            store=store,
            order_in=order_in,
            number_prefix=state.settings.order_number_prefix,
            created_by=f"webhook:{store.name}",
        )
        if created:
            detail = f"order {order.number} created"
            if order.needs_review:
                detail += "; needs review by the order desk"
            outcome = Outcome.PROCESSED
        else:
            detail, outcome = f"order {order.number} exists already", Outcome.DUPLICATE
        delivery = webhook_service.finish(
            session=session,
            delivery_id=stored.id if stored else delivery_id,
            outcome=outcome,
            detail=detail,
            order_number=order.number,
        )
        return order, delivery

    # A new order goes before the background writes (on SQLite: core/intake.py).
    order, delivery = await in_intake_session(state, record)
    if order is None:
        return _duplicate(delivery)
    if not order.workflow_started:
        order_flows.request_start(state, order)  # the answer does not wait for Temporal
    return _answer(delivery)


async def _update(
    state: AppState, delivery_id: int, store: StoreConnection, order_in: StoreOrderIn
) -> Answer:
    def look(
        session: Session,
    ) -> tuple[SalesOrder | None, list[tuple[str, int]], list[str], bool]:
        order = webhook_service.find_order(
            session=session, store=store, external_id=order_in.external_id
        )
        if order is None:
            return None, [], [], True
        fresh = webhook_service.claim_update(
            session=session, order_id=row_id(order), updated_at=order_in.updated_at
        )
        current = webhook_service.current_lines(session=session, order_id=row_id(order))
        reasons = webhook_service.review_reasons(session=session, order_in=order_in)
        return order, current, reasons, fresh

    order, current, reasons, fresh = await _db(state, look)
    if order is None:  # the store's update came first (or creation was not subscribed)
        return await _create(state, delivery_id, store, order_in)
    number = order.number or ""
    if not fresh:
        return await _finish(
            state, delivery_id, Outcome.IGNORED, _older(order_in.updated_at), order_number=number
        )
    paid = await _store_paid(state, store, order, order_in) if store.prepaid else ""
    if current == order_in.line_key():
        await _note(
            state, order, f"updated at the store ({order_in.status or 'no status'})", delivery_id
        )
        detail = "no change to the lines" + (f"; {paid}" if paid else "")
        return await _finish(state, delivery_id, Outcome.PROCESSED, detail, order_number=number)
    if reasons:
        message = "the store changed the lines; " + "; ".join(reasons)
        await _note(state, order, message, delivery_id)
        return await _finish(state, delivery_id, Outcome.NEEDS_REVIEW, message, order_number=number)
    lines = [(line.sku or "", line.qty) for line in order_in.lines]
    try:
        await order_flows.amend_order(
            state, order_number=number, lines=lines, actor=f"webhook:{store.name}"
        )
    except order_flows.WorkflowRefusedError as exc:
        message = f"the store changed the lines, but the order refused the change: {exc}"
        await _note(state, order, message, delivery_id)
        return await _finish(state, delivery_id, Outcome.NEEDS_REVIEW, message, order_number=number)
    await _db(
        state,
        lambda s: webhook_service.apply_store_prices(
            session=s,
            order=order_service.get_by_number(session=s, number=number),
            order_in=order_in,
        ),
    )
    return await _finish(
        state, delivery_id, Outcome.PROCESSED, "lines amended", order_number=number
    )


async def _store_paid(
    state: AppState, store: StoreConnection, order: SalesOrder, order_in: StoreOrderIn
) -> str:
    """A prepaid store reports a later payment (Shopify `orders/paid`): record it once."""
    if not order_in.paid or order.prepaid:
        return ""  # unpaid, or the workflow records the prepayment itself
    payment_in = PaymentIn(
        kind="payment",
        key=f"store-paid:{store.name}:{order_in.external_id}",
        amount=order_in.total,
        currency=order_in.currency,
        reference=webhook_service.external_ref(store.name, order_in.external_id),
        method="store",
    )

    def record(session: Session) -> bool:
        row = session.get(SalesOrder, order.id)
        assert row is not None
        return (
            webhook_service.record_payment(session=session, order=row, payment_in=payment_in)
            is not None
        )

    if await _db(state, record):
        await _signal_payment(state, order.number or "")
        return f"paid at the store: {order_in.total} {order_in.currency}"
    return ""


def _older(updated_at: datetime | None) -> str:
    return (
        f"the store's update of {updated_at.isoformat() if updated_at else '-'} is older than "
        "the last one applied: ignored"
    )


async def _cancel(
    state: AppState,
    delivery_id: int,
    store: StoreConnection,
    external_id: str,
    updated_at: datetime | None = None,
) -> Answer:
    def look(session: Session) -> tuple[SalesOrder | None, bool]:
        order = webhook_service.find_order(session=session, store=store, external_id=external_id)
        if order is None or order.status == OrderStatus.CANCELLED:
            return order, True
        fresh = webhook_service.claim_update(
            session=session, order_id=row_id(order), updated_at=updated_at
        )
        return order, fresh

    order, fresh = await _db(state, look)
    if order is None:
        return await _finish(
            state, delivery_id, Outcome.UNMATCHED, f"no order for {store.name} order {external_id}"
        )
    number = order.number or ""
    if order.status == OrderStatus.CANCELLED:
        return await _finish(
            state, delivery_id, Outcome.DUPLICATE, "already cancelled", order_number=number
        )
    if not fresh:
        return await _finish(
            state, delivery_id, Outcome.IGNORED, _older(updated_at), order_number=number
        )
    handle = await order_flows.workflow_handle(state, number)
    try:
        # Accepted is enough to answer: the workflow runs the compensation durably. A refusal by
        # the validator comes back with the start, so result() raises it without waiting.
        update = await handle.start_update(
            SalesOrderNames.CANCEL,
            CancelRequest(reason="cancelled at the store", actor=f"webhook:{store.name}"),
            id=f"store-cancel-{number}",
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            result_type=CancelResult,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(update.result(), timeout=CANCEL_WAIT_SECONDS)
    except (WorkflowUpdateFailedError, RPCError) as exc:
        cause = getattr(exc, "cause", None)
        reason = getattr(cause, "message", None) or getattr(exc, "message", None) or str(exc)
        message = f"the store cancelled the order, but it could not be cancelled: {reason}"
        await _note(state, order, message, delivery_id)
        return await _finish(state, delivery_id, Outcome.NEEDS_REVIEW, message, order_number=number)
    return await _finish(
        state, delivery_id, Outcome.PROCESSED, "cancel accepted", order_number=number
    )


async def _note(state: AppState, order: SalesOrder, message: str, delivery_id: int) -> None:
    await _db(
        state,
        lambda s: order_service.add_event(
            session=s,
            key=f"{order.number}:webhook:{delivery_id}",
            order=s.merge(order),
            kind="store_update",
            message=message[:2000],
            actor="webhook",
        ),
    )


# ---- payments -------------------------------------------------------------------------------


async def _stripe_event(state: AppState, delivery: WebhookDelivery, payload: Any) -> Answer:
    assert delivery.id is not None
    event_id, event_type, thing = stripe.envelope(payload)

    def identify(session: Session) -> None:
        row = session.get(WebhookDelivery, delivery.id)
        assert row is not None
        row.delivery_id, row.topic = event_id, event_type
        session.add(row)

    await _db(state, identify)
    if event_type in stripe.PAYMENT_EVENTS:
        payment_in = stripe.map_payment(event_type, thing)
        if payment_in is None:
            return await _finish(state, delivery.id, Outcome.IGNORED, "not paid yet")
        return await _payment(state, delivery.id, payment_in)
    if event_type in stripe.REFUND_EVENTS:
        return await _payment(state, delivery.id, stripe.map_refund(event_id, thing))
    return await _finish(state, delivery.id, Outcome.IGNORED, f"event {event_type} is not handled")


async def _payment(state: AppState, delivery_id: int, payment_in: PaymentIn) -> Answer:
    def record(session: Session) -> tuple[WebhookDelivery, str | None]:
        what = webhook_service.describe(payment_in)
        order, how = webhook_service.match_payment(session=session, payment_in=payment_in)
        if order is None:
            # Answered 200 so the provider does not retry forever; the log keeps it for review.
            return webhook_service.finish(
                session=session,
                delivery_id=delivery_id,
                outcome=Outcome.UNMATCHED,
                detail=f"{what} matched no order; kept for review",
            ), None
        finish = lambda outcome, detail: webhook_service.finish(  # noqa: E731
            session=session,
            delivery_id=delivery_id,
            outcome=outcome,
            detail=detail,
            order_number=order.number,
        )
        if payment_in.currency != order.currency:
            return finish(
                Outcome.NEEDS_REVIEW,
                f"{what} is not in the order's currency {order.currency}; not recorded",
            ), None
        payment = webhook_service.record_payment(
            session=session, order=order, payment_in=payment_in
        )
        if payment is None:
            return finish(Outcome.DUPLICATE, f"{what} was recorded already"), None
        order_service.add_event(
            session=session,
            key=f"{order.number}:{payment_in.key}",
            order=order,
            kind=payment_in.kind,
            message=f"{what} from Stripe, matched by {how}",
            step="collection",
            actor="webhook:stripe",
        )
        if order.status == OrderStatus.CANCELLED:
            return finish(Outcome.NEEDS_REVIEW, f"{what} recorded for a cancelled order"), None
        return finish(Outcome.PROCESSED, f"{what} recorded, matched by {how}"), order.number

    delivery, number = await _db(state, record)
    if number and payment_in.kind == "payment":
        await _signal_payment(state, number)
    return _answer(delivery)


async def _signal_payment(state: AppState, number: str) -> None:
    try:
        handle = await order_flows.workflow_handle(state, number)
        await handle.signal(SalesOrderNames.PAYMENT_RECORDED)
    except Exception:  # noqa: BLE001 - the payment is recorded; collection rechecks on a timer
        log.warning("could not signal payment_recorded to %s", number)
