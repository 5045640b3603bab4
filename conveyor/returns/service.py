"""Returns: authorise what was shipped, record what came back, restock or scrap, credit, refund.

Every step is keyed by the RMA number, so each happens once however often it is retried:
restock `return:<rma>:restock:<sku>` (a stock receipt), scrap `return:<rma>:scrap:<sku>` (a
ledger entry of kind `scrap`, on-hand unchanged), credit notes `return:<rma>:credit:<invoice>`,
refund `return:<rma>:refund` (a negative payment, method `refund`).
"""

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from conveyor.audit import service as audit_service
from conveyor.core.db import page
from conveyor.core.models import round_money, row_id, utcnow
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import StockMovement
from conveyor.invoice import credit as credit_service
from conveyor.invoice import service as invoice_service
from conveyor.invoice.models import CreditNote, Payment
from conveyor.order import service as order_service
from conveyor.order.enums import OrderStatus
from conveyor.order.models import SalesOrder
from conveyor.returns.models import (
    Disposition,
    ReceiveLine,
    ReturnAuthorisation,
    ReturnCreate,
    ReturnLine,
    ReturnStatus,
)
from conveyor.storefeedback import service as store_feedback
from conveyor.task import service as task_service
from conveyor.task.models import Task

ZERO = Decimal("0.00")
REFUND_METHOD = "refund"
# A credit note above the approval amount waits for this task of an accountant.
APPROVAL_STEP = "refund_approval"
APPROVAL_ROLE = "accountant"
APPROVED, REJECTED = "approved", "rejected"
AUDIT_FIELDS = ("status", "credit_total", "refund_total", "received_by")


class ReturnError(Exception):
    """The request asks for something a return cannot do (not shipped, too many)."""


class ReturnConflictError(Exception):
    """The order or the return is in a state that refuses the request."""


def get_by_number(
    *, session: Session, number: str, for_update: bool = False
) -> ReturnAuthorisation | None:
    """The return with that number, or None; `for_update` locks its row (PostgreSQL)."""
    query = select(ReturnAuthorisation).where(ReturnAuthorisation.number == number)
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def lines(*, session: Session, return_id: int) -> list[ReturnLine]:
    """The return's lines in entry order."""
    return list(
        session.exec(
            select(ReturnLine).where(ReturnLine.return_id == return_id).order_by(col(ReturnLine.id))
        )
    )


def list_returns(
    *, session: Session, order_number: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[ReturnAuthorisation], int]:
    """Returns newest first (optionally of one order), with the total count."""
    query = select(ReturnAuthorisation)
    if order_number:
        query = query.where(ReturnAuthorisation.order_number == order_number)
    return page(session, query, col(ReturnAuthorisation.id).desc(), limit=limit, offset=offset)


def credit_notes(*, session: Session, rma: ReturnAuthorisation) -> list[CreditNote]:
    """The credit notes issued for the return (one per invoice its goods were on)."""
    return credit_service.list_by_key_prefix(session=session, prefix=f"return:{rma.number}:credit:")


def shipped(*, session: Session, order_number: str) -> dict[str, int]:
    """What was shipped on the order, per SKU: its packed quantities in the stock ledger."""
    rows = session.exec(
        select(StockMovement.sku, func.sum(StockMovement.qty))
        .where(StockMovement.order_number == order_number)
        .where(StockMovement.kind == "pack")
        .group_by(StockMovement.sku)
    )
    return {sku: int(qty) for sku, qty in rows}


def returned(*, session: Session, order_id: int) -> dict[str, int]:
    """What the order's returns hold per SKU: authorised, or what came back once received."""
    held: dict[str, int] = defaultdict(int)
    rows = session.exec(
        select(ReturnAuthorisation.status, ReturnLine)
        .join(ReturnLine, col(ReturnLine.return_id) == ReturnAuthorisation.id)
        .where(ReturnAuthorisation.order_id == order_id)
    )
    for status, line in rows:
        if status == ReturnStatus.AUTHORISED:
            held[line.sku] += line.qty
        else:  # what was not sent back is no longer held by that return
            held[line.sku] += line.restock_qty + line.scrap_qty
    return dict(held)


def create(
    *,
    session: Session,
    key: str,
    order: SalesOrder,
    return_in: ReturnCreate,
    actor: audit_service.Actor,
) -> ReturnAuthorisation:
    """Authorise the return of shipped goods once per `key` (numbered RMA-000001, ...)."""
    # PostgreSQL: the order row lock serialises returns of one order, so two at once cannot both
    # take the same goods, and a repeated key finds the first request's RMA. SQLite:
    # BEGIN IMMEDIATE already holds the write lock.
    session.exec(select(SalesOrder.id).where(SalesOrder.id == order.id).with_for_update()).one()
    existing = session.exec(
        select(ReturnAuthorisation).where(ReturnAuthorisation.key == key)
    ).first()
    if existing is not None:
        return existing
    if order.status == OrderStatus.CANCELLED:
        raise ReturnConflictError(f"order {order.number} is cancelled: nothing was shipped")
    sent = shipped(session=session, order_number=order.number or "")
    if not sent:
        raise ReturnConflictError(f"nothing was shipped on order {order.number}")
    if order.status != OrderStatus.COMPLETED:
        # Collection compares invoiced with paid; a credit note while it waits would leave the
        # order waiting for money nobody owes. Returns come once the order is completed.
        raise ReturnConflictError(
            f"order {order.number} is {order.status}: returns are taken once it is completed"
        )
    wanted: dict[str, int] = defaultdict(int)
    for line in return_in.lines:
        wanted[line.sku] += line.qty
    taken = returned(session=session, order_id=order.id or 0)
    for sku, qty in wanted.items():
        if sku not in sent:
            raise ReturnError(f"{sku} was not shipped on order {order.number}")
        left = sent[sku] - taken.get(sku, 0)
        if qty > left:
            raise ReturnError(
                f"{qty} x {sku} cannot be returned: {sent[sku]} shipped, "
                f"{taken.get(sku, 0)} returned already, {max(left, 0)} left"
            )
    seq = invoice_service.next_number(session=session, name="return")
    rma = ReturnAuthorisation(
        number=f"RMA-{seq:06d}",
        key=key,
        order_id=row_id(order),
        order_number=order.number or "",
        reason=return_in.reason,
        created_by=actor.name,
        currency=order.currency,
    )
    session.add(rma)
    session.flush()
    for sku, qty in wanted.items():
        session.add(ReturnLine(return_id=row_id(rma), sku=sku, qty=qty))
    summary = ", ".join(f"{qty} x {sku}" for sku, qty in wanted.items())
    order_service.add_event(
        session=session,
        key=f"return:{rma.number}:authorised",
        order=order,
        kind="return_authorised",
        message=f"return {rma.number} authorised: {summary}"
        + (f" ({return_in.reason})" if return_in.reason else ""),
        actor=actor.name,
    )
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="return.authorise",
        entity="return",
        entity_id=rma.number,
        after={
            "order_number": rma.order_number,
            "reason": rma.reason,
            "lines": [{"sku": sku, "qty": qty} for sku, qty in wanted.items()],
        },
    )
    return rma


def record_receipt(
    *,
    session: Session,
    rma: ReturnAuthorisation,
    received: Sequence[ReceiveLine],
    actor: audit_service.Actor,
) -> ReturnAuthorisation:
    """Record what came back and how it is disposed of; no lines: all of it, restocked.

    Receiving again with the same lines is a repeat and changes nothing; different lines are a
    conflict.
    """
    rows = lines(session=session, return_id=rma.id or 0)
    by_sku = {row.sku: row for row in rows}
    plan: dict[str, dict[Disposition, int]] = {
        row.sku: {Disposition.RESTOCK: 0, Disposition.SCRAP: 0} for row in rows
    }
    if not received:
        for row in rows:
            plan[row.sku][Disposition.RESTOCK] = row.qty
    for line in received:
        if line.sku not in by_sku:
            raise ReturnError(f"{line.sku} is not on return {rma.number}")
        plan[line.sku][line.disposition] += line.qty
    for sku, split in plan.items():
        if sum(split.values()) > by_sku[sku].qty:
            raise ReturnError(
                f"{sum(split.values())} x {sku} received, "
                f"but return {rma.number} authorises {by_sku[sku].qty}"
            )
    if rma.status != ReturnStatus.AUTHORISED:
        recorded = {
            row.sku: {Disposition.RESTOCK: row.restock_qty, Disposition.SCRAP: row.scrap_qty}
            for row in rows
        }
        if recorded == plan:
            return rma  # the same receipt again (a retry)
        raise ReturnConflictError(f"return {rma.number} is already {rma.status}")
    for sku, split in plan.items():
        row = by_sku[sku]
        row.restock_qty, row.scrap_qty = split[Disposition.RESTOCK], split[Disposition.SCRAP]
        session.add(row)
    before = audit_service.snapshot(rma, ["status", "received_by"])
    rma.status = ReturnStatus.RECEIVING
    rma.received_by = actor.name
    session.add(rma)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="return.receive",
        entity="return",
        entity_id=rma.number,
        before=before,
        after=audit_service.snapshot(rma, ["status", "received_by"])
        | {
            "lines": [
                {"sku": sku, "restock": kept[Disposition.RESTOCK], "scrap": kept[Disposition.SCRAP]}
                for sku, kept in plan.items()
            ]
        },
    )
    return rma


def restock(
    *, session: Session, rma: ReturnAuthorisation, default_warehouse: str
) -> tuple[int, int, list[str]]:
    """Put restocked goods back on hand, write scrapped goods off; (restocked, scrapped, SKUs).

    Goods go back to the warehouse that shipped them, or to `default_warehouse`.
    """
    restocked = scrapped = 0
    skus = []
    for row in lines(session=session, return_id=rma.id or 0):
        warehouse = _shipped_from(session, rma.order_number, row.sku)
        if row.restock_qty:
            inventory_service.receive(
                session=session,
                key=f"return:{rma.number}:restock:{row.sku}",
                sku=row.sku,
                qty=row.restock_qty,
                warehouse=warehouse,
                unit_cost=_sold_at(session, rma.order_number, row.sku),
                order_number=rma.order_number,
                default_warehouse=default_warehouse,
                actor=audit_service.Actor.system(),  # the return's workflow restocks
            )
            restocked += row.restock_qty
            skus.append(row.sku)
        if row.scrap_qty:
            _scrap(
                session,
                f"return:{rma.number}:scrap:{row.sku}",
                row,
                rma,
                warehouse or default_warehouse,
            )
            scrapped += row.scrap_qty
    return restocked, scrapped, skus


def _sold_at(session: Session, order_number: str, sku: str) -> Decimal | None:
    """The unit cost the SKU left the stock at on the order (its packs' average), which is
    what restocked goods are worth again; None when its packs carried no cost."""
    qty, value = session.exec(
        select(
            func.sum(StockMovement.qty),
            func.sum(col(StockMovement.qty) * col(StockMovement.unit_cost)),
        )
        .where(StockMovement.order_number == order_number)
        .where(StockMovement.sku == sku)
        .where(StockMovement.kind == "pack")
        .where(col(StockMovement.unit_cost).is_not(None))
    ).one()
    if not qty or value is None:
        return None
    return (Decimal(value) / Decimal(qty)).quantize(Decimal("0.0001"))


def _shipped_from(session: Session, order_number: str, sku: str) -> str | None:
    """The warehouse that shipped most of the SKU on the order: returns go back there."""
    rows = session.exec(
        select(StockMovement.warehouse, func.sum(StockMovement.qty))
        .where(StockMovement.order_number == order_number)
        .where(StockMovement.sku == sku)
        .where(StockMovement.kind == "pack")
        .group_by(StockMovement.warehouse)
    ).all()
    return max(rows, key=lambda row: (row[1], row[0]))[0] if rows else None


def _scrap(
    session: Session, key: str, row: ReturnLine, rma: ReturnAuthorisation, warehouse: str
) -> None:
    # A ledger entry of its own kind: the goods came back and went straight to the bin, so
    # on-hand (receipts - packs) stays as it is.
    movement = StockMovement(
        key=key,
        sku=row.sku,
        kind="scrap",
        qty=row.scrap_qty,
        order_number=rma.order_number,
        warehouse=warehouse,
    )
    try:
        with session.begin_nested():
            session.add(movement)
            session.flush()
    except IntegrityError:
        pass  # scrapped by an earlier attempt


def credit(*, session: Session, rma: ReturnAuthorisation) -> list[CreditNote]:
    """Issue the credit note(s) for what came back, at the prices and tax rates invoiced.

    Refused while an accountant's approval is pending, and for a rejected return.
    """
    _refuse_undecided(rma)
    order = session.get(SalesOrder, rma.order_id)
    assert order is not None
    goods = _goods(session, rma)
    notes = (
        credit_service.credit_goods(
            session=session,
            key=f"return:{rma.number}:credit",
            order=order,
            goods=goods,
            reason=f"return {rma.number}" + (f": {rma.reason}" if rma.reason else ""),
        )
        if goods
        else []
    )
    rma.credit_total = round_money(sum((note.total for note in notes), ZERO))
    session.add(rma)
    session.flush()
    return notes


def refund(*, session: Session, rma: ReturnAuthorisation) -> Decimal:
    """Record the refund for the return once: what was paid beyond what is owed after the credit.

    At most the return's credit, less the share of an early-payment discount it covers; an
    order nobody paid for gets no refund (the credit lowers what is owed instead).
    """
    _refuse_undecided(rma)
    key = f"return:{rma.number}:refund"
    existing = session.exec(select(Payment).where(Payment.key == key)).first()
    if existing is None:
        order = session.get(SalesOrder, rma.order_id)
        assert order is not None
        # What an early-payment discount took off the goods comes off their refund too.
        invoice_service.discount_reversal(
            session=session,
            key=f"return:{rma.number}:discount",
            order=order,
            credit=rma.credit_total,
            reference=rma.number,
            actor=audit_service.Actor.system(),
        )
        owed = invoice_service.invoiced_total(
            session=session, order_id=order.id or 0
        ) - invoice_service.credited_total(session=session, order_id=order.id or 0)
        paid = invoice_service.paid_total(session=session, order_id=order.id or 0)
        amount = min(rma.credit_total, max(paid - owed, ZERO))
        if amount > ZERO:
            # A refund is a negative payment; the journal posts it bank credit, receivable debit.
            invoice_service.record_payment(
                session=session,
                key=key,
                order=order,
                amount=-amount,
                method=REFUND_METHOD,
                reference=rma.number,
                actor=audit_service.Actor.system(),  # the return's workflow refunds
            )
            store_feedback.refunded(
                session,
                order,
                reference=rma.number,
                amount=amount,
                currency=rma.currency,
                lines=_goods(session, rma),
                reason=f"return {rma.number}" + (f": {rma.reason}" if rma.reason else ""),
            )
    else:
        amount = -existing.amount
    rma.refund_total = round_money(amount)
    session.add(rma)
    session.flush()
    return rma.refund_total


def _refuse_undecided(rma: ReturnAuthorisation) -> None:
    # Separation of duties: no credit note or refund before the accountant approved it.
    if rma.status in (ReturnStatus.PENDING_APPROVAL, ReturnStatus.REJECTED):
        raise ReturnConflictError(
            f"return {rma.number} is {rma.status}: no credit note or refund without approval"
        )


def complete(*, session: Session, rma: ReturnAuthorisation) -> ReturnAuthorisation:
    """Mark the return received (once) and note it on the order's trail."""
    if rma.status in (ReturnStatus.RECEIVED, ReturnStatus.REJECTED):
        return rma  # done once already; a rejected return ends without credit note or refund
    _refuse_undecided(rma)
    rma.status = ReturnStatus.RECEIVED
    rma.received_at = utcnow()
    session.add(rma)
    order = session.get(SalesOrder, rma.order_id)
    assert order is not None
    notes = ", ".join(note.number for note in credit_notes(session=session, rma=rma)) or "none"
    order_service.add_event(
        session=session,
        key=f"return:{rma.number}:received",
        order=order,
        kind="return_received",
        message=(
            f"return {rma.number} received; credit note {notes} "
            f"({rma.credit_total} {rma.currency}), refund {rma.refund_total} {rma.currency}"
        ),
        actor=rma.received_by or "system",
    )
    session.flush()
    return rma


def approval_task_key(number: str) -> str:
    """The key of the return's approval task (one per RMA)."""
    return f"return:{number}:refund-approval"


def approval_task(*, session: Session, rma: ReturnAuthorisation) -> Task | None:
    """The accountant's approval task of the return, or None when it needed none."""
    return task_service.get_by_key(session=session, key=approval_task_key(rma.number))


def number_of_approval_task(task: Task) -> str | None:
    """The RMA number when `task` is a return's approval task (its key names it), else None."""
    prefix, suffix = "return:", ":refund-approval"
    if task.step != APPROVAL_STEP or not (
        task.key.startswith(prefix) and task.key.endswith(suffix)
    ):
        return None
    return task.key[len(prefix) : -len(suffix)]


def credit_due(*, session: Session, rma: ReturnAuthorisation) -> Decimal:
    """What the return's credit note(s) total: as issued, or as they would be issued now."""
    notes = credit_notes(session=session, rma=rma)
    if notes:
        return round_money(sum((note.total for note in notes), ZERO))
    order = session.get(SalesOrder, rma.order_id)
    assert order is not None
    goods = _goods(session, rma)
    return (
        credit_service.credit_goods_total(session=session, order=order, goods=goods)
        if goods
        else ZERO
    )


def request_approval(
    *, session: Session, rma: ReturnAuthorisation, above: Decimal
) -> tuple[Task | None, Decimal]:
    """Open the accountant's approval task when the credit is above `above` (once per RMA).

    (task or None, the credit due). The credit note and the refund wait for the decision; the
    return is `pending_approval` meanwhile.
    """
    existing = approval_task(session=session, rma=rma)
    due = credit_due(session=session, rma=rma)
    if existing is not None:
        return existing, due
    if due <= above or rma.status != ReturnStatus.RECEIVING:
        return None, due
    order = session.get(SalesOrder, rma.order_id)
    assert order is not None
    before = audit_service.snapshot(rma, AUDIT_FIELDS)
    task = task_service.create_assigned(
        session=session,
        key=approval_task_key(rma.number),
        order=order,
        step=APPROVAL_STEP,
        role=APPROVAL_ROLE,
    )
    rma.status = ReturnStatus.PENDING_APPROVAL
    session.add(rma)
    order_service.add_event(
        session=session,
        key=f"return:{rma.number}:approval-requested",
        order=order,
        kind="return_approval",
        message=(
            f"return {rma.number}: credit {due} {rma.currency} is above {above}; "
            f"task {task.id} asks an accountant to approve the credit note and refund"
        ),
        actor="system",
    )
    audit_service.record(
        session,
        actor=audit_service.Actor.system(),
        action="return.approval_requested",
        entity="return",
        entity_id=rma.number,
        before=before,
        after={**audit_service.snapshot(rma, AUDIT_FIELDS), "task_id": task.id, "credit": due},
    )
    session.flush()
    return task, due


def decide(
    *,
    session: Session,
    rma: ReturnAuthorisation,
    task_id: int,
    outcome: str,
    note: str | None,
    actor: audit_service.Actor,
) -> ReturnAuthorisation:
    """Record the accountant's decision on the credit (once): approved goes on to the credit
    note and refund; rejected ends the return with neither.
    """
    if outcome not in (APPROVED, REJECTED):
        raise ReturnError(f"a refund approval is {APPROVED} or {REJECTED}, not {outcome}")
    task = task_service.mark_completed(
        session=session, task_id=task_id, outcome=outcome, note=note, actor=actor.name
    )
    if rma.status != ReturnStatus.PENDING_APPROVAL:
        return rma  # decided by an earlier attempt
    before = audit_service.snapshot(rma, AUDIT_FIELDS)
    order = session.get(SalesOrder, rma.order_id)
    assert order is not None
    if task.outcome == REJECTED:
        rma.status = ReturnStatus.REJECTED
        rma.credit_total = rma.refund_total = ZERO
        rma.received_at = utcnow()
    else:
        rma.status = ReturnStatus.RECEIVING
    session.add(rma)
    order_service.add_event(
        session=session,
        key=f"return:{rma.number}:{task.outcome}",
        order=order,
        kind="return_approval",
        message=(
            f"return {rma.number}: credit note and refund {task.outcome} by {actor.name}"
            + (f" ({note})" if note else "")
            + ("" if task.outcome == APPROVED else "; goods kept, nothing credited or refunded")
        ),
        actor=actor.name,
    )
    audit_service.record(
        session,
        actor=actor,
        action=f"return.{'approve' if task.outcome == APPROVED else 'reject'}",
        entity="return",
        entity_id=rma.number,
        before=before,
        after={**audit_service.snapshot(rma, AUDIT_FIELDS), "task_id": task_id, "note": note},
    )
    session.flush()
    return rma


def _goods(session: Session, rma: ReturnAuthorisation) -> list[tuple[str, int]]:
    """What came back per SKU (restocked or scrapped): what the credit note covers."""
    return [
        (row.sku, row.restock_qty + row.scrap_qty)
        for row in lines(session=session, return_id=rma.id or 0)
        if row.restock_qty + row.scrap_qty
    ]
