"""What a task card shows about its order, by step: the order desk's, credit's, the warehouse's."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlmodel import Session, col, select

from conveyor.auth.permissions import Role
from conveyor.core.models import row_id
from conveyor.customer.models import Customer
from conveyor.inventory import documents
from conveyor.inventory.documents import DocumentLine
from conveyor.invoice import service as invoice_service
from conveyor.order import read as order_read
from conveyor.order.enums import Step
from conveyor.order.models import OrderEvent, SalesOrder
from conveyor.task.models import Task

WAREHOUSE_STEPS = (Step.PICKING, Step.PACKING)


@dataclass
class TaskContext:
    """The facts one task needs: `kind` is desk, credit (the credit role's approval), pick or
    pack (the warehouse steps); desk for every other task."""

    kind: str
    ship_to: list[str] = field(default_factory=list)
    payment: str = ""
    review: list[str] = field(default_factory=list)
    credit_limit: str = ""
    open_receivables: str = ""
    order_total: str = ""
    lines: list[DocumentLine] = field(default_factory=list)
    document_url: str = ""


def _money(amount: object, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def payment_state(session: Session, order: SalesOrder) -> str:
    """prepaid, paid, open (with what is owed) or not invoiced yet."""
    money = order_read.money_received(session, order.id or 0)
    return _payment_state(order, money["invoiced"], money["balance"])


def _payment_state(order: SalesOrder, invoiced: Decimal, balance: Decimal) -> str:
    if order.prepaid:
        return "prepaid"
    if invoiced <= 0:
        return "not invoiced yet"
    if balance <= 0:
        return "paid"
    return f"open: {_money(balance, order.currency)} due"


def _review_reasons(session: Session, order_ids: Sequence[int]) -> dict[int, list[str]]:
    if not order_ids:
        return {}
    events = session.exec(
        select(OrderEvent)
        .where(col(OrderEvent.order_id).in_(list(order_ids)))
        .where(OrderEvent.kind == "needs_review")
    ).all()
    found: dict[int, list[str]] = {}
    for event in events:
        text = event.message.removeprefix("needs review by the order desk: ")
        found.setdefault(event.order_id, []).extend(r for r in text.split("; ") if r)
    return found


def task_contexts(
    session: Session,
    tasks: Sequence[Task],
    orders: Mapping[str, SalesOrder],
    customers: Mapping[int, Customer],
) -> dict[int, TaskContext]:
    """Each task's context (by task id), read in a few queries for the whole list."""
    # Tasks about something else than an order (a held supplier invoice) have no order context.
    ordered = [t for t in tasks if t.order_id is not None and t.order_number is not None]
    warehouse = [t.order_id or 0 for t in ordered if t.step in WAREHOUSE_STEPS]
    picks = documents.pick_lines_by_order(session=session, order_ids=warehouse)
    flat = [row for rows in picks.values() for row in rows]
    lines_by_order: dict[int, list[DocumentLine]] = {}
    named = documents.document_lines(session=session, rows=flat)
    for row, line in zip(flat, named, strict=True):
        lines_by_order.setdefault(row.order_id, []).append(line)
    desk = [
        t.order_id or 0 for t in ordered if t.step not in WAREHOUSE_STEPS and t.role != Role.CREDIT
    ]
    reasons = _review_reasons(session, desk)
    # Money per order and receivables per customer for the whole list: a few grouped queries,
    # not three per task (an inbox shows up to 200).
    credit = {t.order_number or "" for t in ordered if t.role == Role.CREDIT}
    credit_orders = [orders[number] for number in sorted(credit) if number in orders]
    receivables = invoice_service.open_receivables_many(session=session, orders=credit_orders)
    money = invoice_service.money_by_order(session=session, order_ids=sorted(set(desk)))
    found: dict[int, TaskContext] = {}
    for task in ordered:
        order = orders.get(task.order_number or "")
        if order is None or task.id is None:
            continue
        customer = customers.get(order.customer_id)
        if task.role == Role.CREDIT:
            limit = customer.credit_limit if customer else 0
            found[task.id] = TaskContext(
                kind="credit",
                credit_limit=_money(limit, order.currency),
                open_receivables=_money(receivables[row_id(order)], order.currency),
                order_total=_money(order.total, order.currency),
            )
        elif task.step in WAREHOUSE_STEPS:
            picking = task.step == Step.PICKING
            document = "pick-list" if picking else "packing-slip"
            found[task.id] = TaskContext(
                kind="pick" if picking else "pack",
                ship_to=[] if picking else documents.ship_to_lines(order, customer),
                lines=lines_by_order.get(order.id or 0, []),
                document_url=f"/orders/{order.number}/{document}.pdf",
            )
        else:
            found[task.id] = TaskContext(
                kind="desk",
                ship_to=documents.ship_to_lines(order, customer),
                payment=_payment_state(
                    order, money[row_id(order)].invoiced, money[row_id(order)].owed
                ),
                review=reasons.get(order.id or 0, []),
            )
    return found
