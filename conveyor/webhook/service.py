"""Webhook operations: the delivery log, importing store orders, matching payments."""

import hashlib
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, delete, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from conveyor.audit.service import Actor, record
from conveyor.core.db import page
from conveyor.core.models import round_money, row_id, utcnow
from conveyor.customer import service as customer_service
from conveyor.customer.models import Customer
from conveyor.inventory import service as inventory_service
from conveyor.invoice import service as invoice_service
from conveyor.invoice.models import Payment
from conveyor.order import service as order_service
from conveyor.order.models import OrderLine, SalesOrder
from conveyor.webhook.connections import StoreConnection
from conveyor.webhook.models import Outcome, StoreOrder, WebhookDelivery
from conveyor.webhook.payloads import PaymentIn, StoreOrderIn

REDACTED_HEADERS = frozenset(
    {
        "authorization",
        "cookie",
        "x-shopify-hmac-sha256",
        "x-shopify-access-token",
        "x-wc-webhook-signature",
        "stripe-signature",
    }
)


# What a refused delivery keeps of its headers: enough to see who sent what, nothing more.
REFUSED_HEADERS = frozenset(
    {
        "content-length",
        "content-type",
        "user-agent",
        "x-forwarded-for",
        "x-shopify-topic",
        "x-shopify-shop-domain",
        "x-shopify-webhook-id",
        "x-shopify-triggered-at",
        "x-wc-webhook-topic",
        "x-wc-webhook-source",
        "x-wc-webhook-delivery-id",
    }
)
# Refused deliveries (metadata only, rate-limited per source, purged after their retention).
REFUSED_OUTCOMES = (Outcome.REJECTED, Outcome.PING)
# Signed deliveries nobody has to look at again; the others stay until a person acts on them.
SETTLED_OUTCOMES = (Outcome.PROCESSED, Outcome.DUPLICATE, Outcome.IGNORED, Outcome.MALFORMED)
# A repeat of a delivery still `received` this long after it came is taken over (its process
# died on the way); a younger one is in flight and the repeat is a duplicate.
RETAKE_RECEIVED_AFTER_SECONDS = 60
PURGE_BATCH = 500


def safe_headers(headers: dict[str, str]) -> dict[str, str]:
    """The headers worth keeping, with signatures and credentials left out."""
    return {
        k: ("[redacted]" if k in REDACTED_HEADERS else v[:500]) for k, v in sorted(headers.items())
    }


def refused_headers(headers: dict[str, str]) -> dict[str, str]:
    """The few headers a refused delivery keeps, shortened."""
    return {k: v[:200] for k, v in sorted(headers.items()) if k in REFUSED_HEADERS}


# ---- delivery log ---------------------------------------------------------------------------


def record_delivery(
    *,
    session: Session,
    provider: str,
    headers: dict[str, str],
    body: bytes,
    store: str | None = None,
    delivery_id: str | None = None,
    topic: str | None = None,
    signature_valid: bool = False,
    outcome: Outcome = Outcome.RECEIVED,
    detail: str = "",
    source: str | None = None,
) -> WebhookDelivery:
    """Store one HTTP delivery as received (before anything acts on it)."""
    delivery = WebhookDelivery(
        provider=provider,
        store=store,
        delivery_id=(delivery_id or None) and delivery_id[:128],
        topic=(topic or None) and topic[:64],
        headers=safe_headers(headers),
        body=body,
        body_size=len(body),
        source=source and source[:64],
        signature_valid=signature_valid,
        outcome=outcome,
        detail=detail[:2000],
        processed_at=None if outcome == Outcome.RECEIVED else utcnow(),
    )
    session.add(delivery)
    session.flush()
    return delivery


def record_refused(
    *,
    session: Session,
    provider: str,
    headers: dict[str, str],
    body_size: int,
    source: str | None,
    outcome: Outcome,
    detail: str,
    topic: str | None = None,
    store: str | None = None,
    signature_valid: bool = False,
) -> WebhookDelivery:
    """Note a refused delivery: who sent what, how large, why refused; never its body."""
    delivery = WebhookDelivery(
        provider=provider,
        store=store,
        topic=(topic or None) and topic[:64],
        headers=refused_headers(headers),
        body=b"",
        body_size=body_size,
        source=source and source[:64],
        signature_valid=signature_valid,
        outcome=outcome,
        detail=detail[:500],
        processed_at=utcnow(),
    )
    session.add(delivery)
    session.flush()
    return delivery


def refused_since(
    *, session: Session, source: str | None, since: datetime
) -> tuple[int, datetime | None]:
    """How many refused deliveries `source` left since then, and when the oldest of them came."""
    count, oldest = session.exec(
        select(func.count(), func.min(WebhookDelivery.received_at))
        .where(WebhookDelivery.source == source)
        .where(col(WebhookDelivery.outcome).in_(REFUSED_OUTCOMES))
        .where(col(WebhookDelivery.received_at) >= since)
    ).one()
    if isinstance(oldest, str):  # SQLite hands an aggregate back as text
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=since.tzinfo)
    return int(count), oldest


def find_delivery(
    *, session: Session, provider: str, store: str, delivery_id: str
) -> WebhookDelivery | None:
    """The stored delivery with that id from that store, or None."""
    return session.exec(
        select(WebhookDelivery)
        .where(WebhookDelivery.provider == provider)
        .where(WebhookDelivery.store == store)
        .where(WebhookDelivery.delivery_id == delivery_id[:128])
    ).first()


def claim_delivery(
    *, session: Session, now: datetime, **fields: Any
) -> tuple[WebhookDelivery, bool]:
    """Store a signed delivery once per (provider, store, delivery id).

    (the new row, True) to act on it; for a repeat of a stored delivery, (that row, False) when
    it was dealt with (a duplicate: no effect), (that row, True) when it failed or its process
    died on the way (the provider's retry takes it over).
    """
    provider, store, ref = fields["provider"], fields.get("store"), fields.get("delivery_id")
    if not ref or not store:
        return record_delivery(session=session, **fields), True
    existing = find_delivery(session=session, provider=provider, store=store, delivery_id=ref)
    if existing is None:
        try:
            with session.begin_nested():
                return record_delivery(session=session, **fields), True
        except IntegrityError:  # a concurrent delivery with the same id was stored first
            existing = find_delivery(
                session=session, provider=provider, store=store, delivery_id=ref
            )
            if existing is None:
                raise
    return _repeat(session, existing, now)


def record_outcome(
    *, session: Session, fields: dict[str, Any], outcome: Outcome, detail: str
) -> WebhookDelivery:
    """Store a signed delivery with what became of it before anything acted on it (malformed,
    failed); a delivery stored under its id already gets the new outcome."""
    existing = None
    if fields.get("delivery_id") and fields.get("store"):
        existing = find_delivery(
            session=session,
            provider=fields["provider"],
            store=fields["store"],
            delivery_id=fields["delivery_id"],
        )
    if existing is None:
        return record_delivery(session=session, **fields, outcome=outcome, detail=detail)
    return finish(session=session, delivery_id=row_id(existing), outcome=outcome, detail=detail)


def _repeat(
    session: Session, existing: WebhookDelivery, now: datetime
) -> tuple[WebhookDelivery, bool]:
    this = col(WebhookDelivery.id) == existing.id
    session.execute(
        update(WebhookDelivery).where(this).values(repeats=col(WebhookDelivery.repeats) + 1)
    )
    stuck = now - timedelta(seconds=RETAKE_RECEIVED_AFTER_SECONDS)
    result = session.execute(
        update(WebhookDelivery)
        .where(this)
        .where(
            or_(
                col(WebhookDelivery.outcome) == Outcome.FAILED,
                and_(
                    col(WebhookDelivery.outcome) == Outcome.RECEIVED,
                    col(WebhookDelivery.received_at) < stuck,
                ),
            )
        )
        .values(outcome=Outcome.RECEIVED, detail="received again", processed_at=None)
    )
    taken = getattr(result, "rowcount", 0)
    session.flush()
    delivery = session.get(WebhookDelivery, existing.id, populate_existing=True)
    assert delivery is not None
    return delivery, bool(taken)


def purge(
    *,
    session: Session,
    now: datetime,
    refused_retention_seconds: float,
    retention_seconds: float | None,
    limit: int = PURGE_BATCH,
) -> int:
    """Delete up to `limit` old deliveries: refused ones after their retention, settled signed
    ones after `retention_seconds` (None: kept). How many went; call again while it is `limit`.
    """
    refused = and_(
        col(WebhookDelivery.outcome).in_(REFUSED_OUTCOMES),
        col(WebhookDelivery.received_at) < now - timedelta(seconds=refused_retention_seconds),
    )
    condition = refused
    if retention_seconds is not None:
        condition = or_(
            refused,
            and_(
                col(WebhookDelivery.signature_valid).is_(True),
                col(WebhookDelivery.outcome).in_(SETTLED_OUTCOMES),
                col(WebhookDelivery.received_at) < now - timedelta(seconds=retention_seconds),
            ),
        )
    ids = list(
        session.exec(
            select(WebhookDelivery.id)
            .where(condition)
            .order_by(col(WebhookDelivery.id))
            .limit(limit)
        ).all()
    )
    if not ids:
        return 0
    session.execute(delete(WebhookDelivery).where(col(WebhookDelivery.id).in_(ids)))
    record(
        session,
        actor=Actor.system(),
        action="webhook_delivery.purge",
        entity="webhook_delivery",
        entity_id=f"{ids[0]}-{ids[-1]}",
        after={"deleted": len(ids), "first_id": ids[0], "last_id": ids[-1]},
    )
    session.flush()
    return len(ids)


def finish(
    *,
    session: Session,
    delivery_id: int,
    outcome: Outcome,
    detail: str = "",
    order_number: str | None = None,
    topic: str | None = None,
) -> WebhookDelivery:
    """Record what a delivery led to."""
    delivery = session.get(WebhookDelivery, delivery_id)
    assert delivery is not None
    delivery.outcome = outcome
    delivery.detail = detail[:2000]
    delivery.order_number = order_number or delivery.order_number
    delivery.topic = topic[:64] if topic else delivery.topic
    delivery.processed_at = utcnow()
    session.add(delivery)
    session.flush()
    return delivery


def get(*, session: Session, delivery_id: int) -> WebhookDelivery | None:
    """The delivery with that id, or None."""
    return session.get(WebhookDelivery, delivery_id)


def list_deliveries(
    *,
    session: Session,
    provider: str | None = None,
    outcome: str | None = None,
    store: str | None = None,
    order_number: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[WebhookDelivery], int]:
    """Deliveries newest first with the given filters; a page and the total count."""
    query = select(WebhookDelivery)
    if provider:
        query = query.where(WebhookDelivery.provider == provider)
    if outcome:
        query = query.where(WebhookDelivery.outcome == outcome)
    if store:
        query = query.where(WebhookDelivery.store == store)
    if order_number:
        query = query.where(WebhookDelivery.order_number == order_number)
    return page(session, query, col(WebhookDelivery.id).desc(), limit=limit, offset=offset)


# ---- store orders ---------------------------------------------------------------------------


def external_ref(store: str, external_id: str) -> str:
    """The order's external reference: store name and the store's order id."""
    return f"{store}:{external_id}"


def find_order(*, session: Session, store: StoreConnection, external_id: str) -> SalesOrder | None:
    """The order a store's order id was imported as, or None."""
    return order_service.get_by_external_ref(
        session=session, channel=store.channel, external_ref=external_ref(store.name, external_id)
    )


def _matches(customer: Customer, store: StoreConnection) -> bool:
    """True when a store order may land on this customer: the store created it, or its
    e-mail address is verified (an unverified address proves nothing about who ordered)."""
    return customer.created_by_store == store.name or customer.email_verified


def unverified_email(store: StoreConnection, email: str, external_id: str | None = None) -> str:
    """The undeliverable address a store's customer is kept under while its e-mail belongs to
    another customer (one per store and address; per order if even that one is taken)."""
    digest = hashlib.sha256(f"{email}:{external_id or ''}".encode()).hexdigest()[:12]
    local = email.split("@", 1)[0][:40]
    return f"{local}.{digest}@{store.name.lower()}.unverified.invalid"


def _customer(
    session: Session, order_in: StoreOrderIn, store: StoreConnection
) -> tuple[Customer, str | None]:
    """The customer a store order lands on, and why a person has to check that (or None)."""
    email = order_in.email or f"unknown@{store.name.lower()}.webhook.invalid"
    existing = customer_service.get_by_email(session=session, email=email)
    if existing and _matches(existing, store):
        return existing, None
    reason = None
    if existing:
        reason = (
            f"e-mail {email} belongs to customer {existing.id}, which store {store.name} did not "
            "create and which is not verified: recorded under a separate customer"
        )
        claimed = email
        for external_id in (None, order_in.external_id):
            email = unverified_email(store, claimed, external_id)
            taken = customer_service.get_by_email(session=session, email=email)
            if taken is None:
                break
            if _matches(taken, store):
                return taken, reason
    customer = Customer(
        name=(order_in.customer_name or order_in.email or email)[:200]
        if order_in.email
        else f"Unknown customer ({store.name})",
        email=email,
        country=order_in.country or "US",
        created_by_store=store.name,
    )
    try:
        with session.begin_nested():
            session.add(customer)
            session.flush()
    except IntegrityError:  # a concurrent delivery created the same customer first
        found = customer_service.get_by_email(session=session, email=email)
        if found is None:
            raise
        return found, reason
    return customer, reason


def review_reasons(*, session: Session, order_in: StoreOrderIn) -> list[str]:
    """Why a person has to look at this store order before it is fulfilled (empty: nothing)."""
    reasons = []
    if not order_in.email:
        reasons.append("no customer e-mail")
    if not order_in.lines:
        reasons.append("no order lines")
    skus = [line.sku for line in order_in.lines if line.sku]
    known = inventory_service.get_many(session=session, skus=skus)
    if any(not line.sku for line in order_in.lines):
        reasons.append(
            "line without SKU: " + ", ".join(ln.name for ln in order_in.lines if not ln.sku)
        )
    unknown = sorted({sku for sku in skus if sku not in known})
    if unknown:
        reasons.append("unknown SKU: " + ", ".join(unknown))
    return reasons


def import_order(
    *,
    session: Session,
    store: StoreConnection,
    order_in: StoreOrderIn,
    number_prefix: str,
    created_by: str,
) -> tuple[SalesOrder, bool]:
    """Record the store order as a sales order once; (order, False) when it already exists.

    Prices, discounts, shipping and taxes are kept as the store charged them. Unknown SKUs or a
    missing e-mail still record the order, flagged `needs_review`.
    """
    ref = external_ref(store.name, order_in.external_id)
    existing = find_order(session=session, store=store, external_id=order_in.external_id)
    if existing:
        return existing, False
    customer, customer_reason = _customer(session, order_in, store)
    reasons = review_reasons(session=session, order_in=order_in)
    if customer_reason:
        reasons.append(customer_reason)
    try:
        order = order_service.record(
            session=session,
            order=SalesOrder(
                channel=store.channel,
                customer_id=row_id(customer),
                external_ref=ref,
                currency=order_in.currency,
                subtotal=order_in.subtotal,
                total=order_in.total,
                prepaid=store.prepaid and order_in.paid,
                needs_review=bool(reasons),
                created_by=created_by,
            ),
            number_prefix=number_prefix,
            lines=[
                # Unsaved lines: record() sets order_id once the order has one. The pydantic
                # plugin calls it required, but a table model's __init__ does not validate.
                OrderLine(  # type: ignore[call-arg]
                    sku=sku,
                    name=line.name,
                    qty=line.qty,
                    unit_price=line.unit_price,
                    line_total=line.line_total,
                )
                for sku, line in zip(order_in.skus(), order_in.lines, strict=True)
            ],
        )
    except order_service.DuplicateExternalRefError as exc:  # a concurrent delivery won
        return exc.order, False
    session.add(
        StoreOrder(
            order_id=row_id(order),
            store=store.name,
            provider=store.kind,
            external_id=order_in.external_id,
            external_number=order_in.external_number,
            payment_ref=order_in.payment_ref,
            currency=order_in.currency,
            subtotal=order_in.subtotal,
            discount=order_in.discount,
            shipping=order_in.shipping,
            tax=order_in.tax,
            total=order_in.total,
            shipping_address=order_in.shipping_address,
            review_reasons=reasons,
            store_updated_at=order_in.updated_at,
        )
    )
    session.flush()
    order_service.add_event(
        session=session,
        key=f"{order.number}:received",
        order=order,
        kind="received",
        message=_received_message(store, order_in),
        actor=store.name,
    )
    order_service.audit_placed(
        session=session,
        order=order,
        lines=order_service.lines(session=session, order_id=row_id(order)),
        actor=Actor.integration(f"{store.kind}:{store.name}"),
    )
    if reasons:
        order_service.add_event(
            session=session,
            key=f"{order.number}:needs_review",
            order=order,
            kind="needs_review",
            message="needs review by the order desk: " + "; ".join(reasons),
            actor=store.name,
        )
    return order, True


def _received_message(store: StoreConnection, order_in: StoreOrderIn) -> str:
    address = ", ".join(str(v) for v in order_in.shipping_address.values())
    return (
        f"received from {store.kind} store {store.name} as {order_in.external_number or '-'} "
        f"(id {order_in.external_id}): {len(order_in.lines)} lines {order_in.subtotal}, "
        f"discount {order_in.discount}, shipping {order_in.shipping}, tax {order_in.tax}, "
        f"total {order_in.total} {order_in.currency}" + (f"; ship to {address}" if address else "")
    )[:2000]


def store_order(*, session: Session, order_id: int) -> StoreOrder | None:
    """The store's record of an imported order, or None."""
    return session.exec(select(StoreOrder).where(StoreOrder.order_id == order_id)).first()


def apply_store_prices(*, session: Session, order: SalesOrder, order_in: StoreOrderIn) -> None:
    """After an amendment from the store, keep the store's prices and totals, not the list's."""
    by_sku = {line.sku: line for line in order_in.lines if line.sku}
    for line in order_service.lines(session=session, order_id=row_id(order)):
        charged = by_sku.get(line.sku)
        if charged and charged.qty == line.qty:
            line.unit_price, line.line_total = charged.unit_price, charged.line_total
            session.add(line)
    order.subtotal, order.total = order_in.subtotal, order_in.total
    order.updated_at = utcnow()
    session.add(order)
    row = store_order(session=session, order_id=row_id(order))
    if row is not None:
        row.subtotal, row.discount, row.shipping = (
            order_in.subtotal,
            order_in.discount,
            order_in.shipping,
        )
        row.tax, row.total = order_in.tax, order_in.total
        session.add(row)
    session.flush()


def claim_update(*, session: Session, order_id: int, updated_at: datetime | None) -> bool:
    """Whether a store update of that time may act: False when the store's record shows a newer
    one acted already (a replay or a late retry). Records the time when it may (one statement,
    so of two at once the older loses). An update without a time cannot be ordered: True."""
    if updated_at is None:
        return True
    last = col(StoreOrder.store_updated_at)
    result = session.execute(
        update(StoreOrder)
        .where(col(StoreOrder.order_id) == order_id)
        .where(or_(last.is_(None), last <= updated_at))
        .values(store_updated_at=updated_at)
    )
    claimed = getattr(result, "rowcount", 0)
    session.flush()
    return bool(claimed) or store_order(session=session, order_id=order_id) is None


def current_lines(*, session: Session, order_id: int) -> list[tuple[str, int]]:
    """(sku, qty) of the order's lines, sorted: what a store update is compared with."""
    return sorted(
        (line.sku, line.qty) for line in order_service.lines(session=session, order_id=order_id)
    )


# ---- payments -------------------------------------------------------------------------------


def match_payment(*, session: Session, payment_in: PaymentIn) -> tuple[SalesOrder | None, str]:
    """The order a payment or refund belongs to, and how it was matched ("" when it was not)."""
    if payment_in.order_number:
        order = order_service.get_by_number(session=session, number=payment_in.order_number)
        if order:
            return order, f"metadata order number {payment_in.order_number}"
    if payment_in.payment_refs:
        paid = session.exec(
            select(Payment).where(col(Payment.reference).in_(payment_in.payment_refs))
        ).first()
        if paid:
            return session.get(SalesOrder, paid.order_id), f"earlier payment {paid.reference}"
        rows = session.exec(
            select(StoreOrder).where(col(StoreOrder.payment_ref).in_(payment_in.payment_refs))
        ).all()
        if len({r.order_id for r in rows}) == 1:
            return session.get(
                SalesOrder, rows[0].order_id
            ), f"payment reference {rows[0].payment_ref}"
    if payment_in.external_ids:
        rows = session.exec(
            select(StoreOrder).where(col(StoreOrder.external_id).in_(payment_in.external_ids))
        ).all()
        if len({r.order_id for r in rows}) == 1:
            return session.get(
                SalesOrder, rows[0].order_id
            ), f"store order id {rows[0].external_id}"
    return None, ""


def refunded_so_far(*, session: Session, reference: str) -> Decimal:
    """What was already recorded as refunded against a payment reference (a positive amount)."""
    total = session.exec(
        select(func.coalesce(func.sum(Payment.amount), 0))
        .where(Payment.reference == reference)
        .where(Payment.method == "stripe_refund")
    ).one()
    return -round_money(Decimal(total))


def record_payment(*, session: Session, order: SalesOrder, payment_in: PaymentIn) -> Payment | None:
    """Record a payment (or a refund, as a negative payment) once; None when nothing is new."""
    existing = session.exec(select(Payment).where(Payment.key == payment_in.key)).first()
    if existing:
        return None
    if payment_in.kind == "refund":
        amount = payment_in.amount - refunded_so_far(
            session=session, reference=payment_in.reference
        )
        if amount <= 0:
            return None
        return invoice_service.record_payment(
            session=session,
            key=payment_in.key,
            order=order,
            amount=-amount,
            method="stripe_refund",
            reference=payment_in.reference,
            actor=payer(payment_in),
        )
    return invoice_service.record_payment(
        session=session,
        key=payment_in.key,
        order=order,
        amount=payment_in.amount,
        method=payment_in.method,
        reference=payment_in.reference,
        actor=payer(payment_in),
    )


def payer(payment_in: PaymentIn) -> Actor:
    """Who the audit log names for a reported payment: Stripe, or the store that took it."""
    if payment_in.method.startswith("stripe"):
        return Actor.integration("stripe")
    return Actor.integration(f"store:{payment_in.reference.partition(':')[0]}")


def describe(payment_in: PaymentIn) -> str:
    """A one-line description for the delivery log and the trail."""
    return f"{payment_in.kind} {payment_in.amount} {payment_in.currency} ({payment_in.reference})"


def body_text(delivery: WebhookDelivery) -> str:
    """The stored body for people to read."""
    return delivery.body.decode("utf-8", errors="replace")


def as_dict(delivery: WebhookDelivery) -> dict[str, Any]:
    """The delivery with its body as text (for the API)."""
    return {**delivery.model_dump(exclude={"body"}), "body": body_text(delivery)}
