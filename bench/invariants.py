"""What must hold after any crash: read from the database, the mail sink's folder and Temporal.

Each check returns a `Check` (name, passed, what was counted), so the chaos benchmark prints
them as a table and its test asserts them. Nothing here trusts the processes that were killed:
every figure is read back from where it is stored.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowExecutionStatus

from conveyor.inventory.models import Product, StockBalance, StockMovement
from conveyor.invoice.models import CreditNote, Invoice, Payment
from conveyor.notification.models import OutboxMessage, OutboxStatus
from conveyor.order.enums import OrderStatus
from conveyor.order.models import OrderEvent, OrderLine, SalesOrder

WAITING = (OrderStatus.BACKORDERED,)
# The ledger's kinds and what each does to on-hand and committed (inventory/service.py).
ON_HAND = {"receive": 1, "pack": -1, "scrap": -1, "move_out": -1, "move_in": 1}
ON_HAND |= {"adjust_in": 1, "adjust_out": -1}
COMMITTED = {"commit": 1, "release": -1, "pack": -1}
# Tables whose `key` makes an effect happen once (a unique constraint: a duplicate is a bug).
KEYED = (StockMovement, Invoice, CreditNote, Payment, OutboxMessage, OrderEvent)
BAD_ENDINGS = {
    WorkflowExecutionStatus.FAILED,
    WorkflowExecutionStatus.TERMINATED,
    WorkflowExecutionStatus.TIMED_OUT,
    WorkflowExecutionStatus.CANCELED,
}


@dataclass
class Check:
    """One invariant: whether it held and the figures behind the verdict."""

    name: str
    passed: bool
    detail: str


@dataclass
class Expected:
    """What the client did, so the stored state can be held against it."""

    numbers: dict[str, str]  # idempotency key -> the order number the API answered
    initial_stock: dict[str, int]  # SKU -> on hand when created
    receipts: dict[str, int] = field(default_factory=dict)  # SKU -> goods received by the client
    kills: Counter[str] = field(default_factory=Counter)  # part -> SIGKILLs
    min_available: int = 0  # the least available (on hand - committed) seen while running
    min_committed: int = 0


def _orders(session: Session) -> list[SalesOrder]:
    return list(session.exec(select(SalesOrder)))


def orders_once(session: Session, expected: Expected) -> Check:
    """Each client order (one idempotency key) is one stored order, and nothing else exists."""
    stored = Counter(o.number for o in _orders(session))
    answered = Counter(expected.numbers.values())
    doubled = [n for n, c in answered.items() if c > 1]
    missing = set(answered) - set(stored)
    extra = set(stored) - set(answered)
    return Check(
        "each order exactly once",
        not doubled and not missing and not extra and len(answered) == len(expected.numbers),
        f"{len(expected.numbers)} keys, {len(stored)} orders stored, {len(missing)} missing, "
        f"{len(extra)} extra, {len(doubled)} keys sharing a number",
    )


def _needs(session: Session) -> dict[str, dict[str, int]]:
    needs: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rows = session.exec(
        select(SalesOrder.number, OrderLine.sku, OrderLine.qty).join(
            OrderLine, col(OrderLine.order_id) == col(SalesOrder.id)
        )
    )
    for number, sku, qty in rows:
        needs[number or ""][sku] += qty
    return needs


def orders_at_rest(session: Session) -> Check:
    """Every order completed, or backordered while its stock really is short."""
    orders = _orders(session)
    statuses = Counter(str(o.status) for o in orders)
    available = {p.sku: p.on_hand - p.committed for p in session.exec(select(Product))}
    needs = _needs(session)
    could_go = [
        o.number
        for o in orders
        if o.status in WAITING
        and all(available.get(sku, 0) >= qty for sku, qty in needs[o.number or ""].items())
    ]
    others = sum(c for s, c in statuses.items() if s not in (OrderStatus.COMPLETED, *WAITING))
    return Check(
        "completed or explicitly waiting",
        others == 0 and not could_go,
        ", ".join(f"{s} {c}" for s, c in sorted(statuses.items()))
        + f"; waiting with the stock there: {len(could_go)}",
    )


def stock_matches_ledger(session: Session, expected: Expected) -> Check:
    """Per SKU: on hand and committed equal the ledger's sums, the warehouses add up, receipts
    counted once, and nothing below zero or committed beyond what is there, then or now."""
    problems = []
    moves: dict[str, Counter[str]] = defaultdict(Counter)
    for sku, kind, qty in session.exec(
        select(StockMovement.sku, StockMovement.kind, func.sum(StockMovement.qty)).group_by(
            col(StockMovement.sku), col(StockMovement.kind)
        )
    ):
        moves[sku][kind] += int(qty)
    balances: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for balance in session.exec(select(StockBalance)):
        balances[balance.sku][0] += balance.on_hand
        balances[balance.sku][1] += balance.committed
    figures = []
    for product in session.exec(select(Product).order_by(col(Product.sku))):
        ledger = moves[product.sku]
        on_hand = sum(ON_HAND.get(kind, 0) * qty for kind, qty in ledger.items())
        committed = sum(COMMITTED.get(kind, 0) * qty for kind, qty in ledger.items())
        received = expected.initial_stock.get(product.sku, 0) + expected.receipts.get(
            product.sku, 0
        )
        if (product.on_hand, product.committed) != (on_hand, committed):
            problems.append(f"{product.sku} {product.on_hand}/{product.committed} vs ledger")
        if balances[product.sku] != [product.on_hand, product.committed]:
            problems.append(f"{product.sku} warehouses {balances[product.sku]}")
        if ledger["receive"] != received:
            problems.append(f"{product.sku} received {ledger['receive']}, sent {received}")
        if not 0 <= product.committed <= product.on_hand:
            problems.append(f"{product.sku} oversold: {product.on_hand}/{product.committed}")
        unknown = set(ledger) - set(ON_HAND) - set(COMMITTED)
        if unknown:
            problems.append(f"{product.sku} unexpected movements {sorted(unknown)}")
        figures.append(f"{product.sku} {product.on_hand}/{product.committed}")
    if expected.min_available < 0 or expected.min_committed < 0:
        problems.append(f"seen while running: available {expected.min_available}")
    return Check(
        "stock = ledger, never oversold",
        not problems,
        "; ".join(problems)
        or f"on hand/committed {', '.join(figures)}; least available seen {expected.min_available}",
    )


def stock_per_order(session: Session) -> Check:
    """A completed order committed and packed each SKU's quantity once; a waiting one packed
    nothing; no order released anything (none was cancelled)."""
    needs = _needs(session)
    status = {o.number: o.status for o in _orders(session)}
    moved: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for number, sku, kind, qty in session.exec(
        select(
            StockMovement.order_number, StockMovement.sku, StockMovement.kind, StockMovement.qty
        ).where(col(StockMovement.order_number).is_not(None))
    ):
        moved[(number or "", sku, kind)].append(qty)
    wrong = []
    for number, lines in needs.items():
        for sku, qty in lines.items():
            commits, packs = moved[(number, sku, "commit")], moved[(number, sku, "pack")]
            if moved[(number, sku, "release")]:
                wrong.append(f"{number} released {sku}")
            if status[number] == OrderStatus.COMPLETED and (commits != [qty] or packs != [qty]):
                wrong.append(f"{number} {sku}: commits {commits}, packs {packs}, ordered {qty}")
            if status[number] in WAITING and packs:
                wrong.append(f"{number} {sku} packed while waiting")
    return Check(
        "each order's stock moved once",
        not wrong,
        "; ".join(wrong[:5]) or f"{len(needs)} orders: commit and pack once per line",
    )


def invoices_and_payments(session: Session) -> Check:
    """One invoice and one payment per completed order, for its total; none for a waiting one."""
    invoices = Counter(session.exec(select(Invoice.order_id)))
    payments: dict[int, list] = defaultdict(list)
    for order_id, amount in session.exec(select(col(Payment.order_id), col(Payment.amount))):
        payments[order_id].append(amount)
    wrong = []
    completed = 0
    for order in _orders(session):
        assert order.id is not None
        if order.status == OrderStatus.COMPLETED:
            completed += 1
            if invoices[order.id] != 1 or payments[order.id] != [order.total]:
                wrong.append(f"{order.number}: {invoices[order.id]} invoices, {payments[order.id]}")
        elif invoices[order.id] or payments[order.id]:
            wrong.append(f"{order.number} ({order.status}) invoiced or paid")
    return Check(
        "one invoice and payment per completed order",
        not wrong,
        "; ".join(wrong[:5])
        or f"{completed} completed: {sum(invoices.values())} invoices, "
        f"{sum(len(p) for p in payments.values())} payments",
    )


def no_duplicate_keys(session: Session) -> Check:
    """No idempotency key twice in any keyed table, and no effect twice under two keys: one
    `received` entry per order, each step completed at most once."""
    doubled = []
    for table in KEYED:
        key = col(table.key)
        count = session.exec(
            select(func.count()).select_from(
                select(key).group_by(key).having(func.count() > 1).subquery()
            )
        ).one()
        if count:
            doubled.append(f"{table.__name__} {count}")
    events = Counter(
        (order_id, kind, step)
        for order_id, kind, step in session.exec(
            select(OrderEvent.order_id, OrderEvent.kind, OrderEvent.step).where(
                col(OrderEvent.kind).in_(["received", "step_completed"])
            )
        )
    )
    twice = [k for k, c in events.items() if c > 1]
    if twice:
        doubled.append(f"trail entries twice {len(twice)} (e.g. {twice[0]})")
    requests = Counter(k for k in session.exec(select(SalesOrder.request_key)) if k)
    if any(c > 1 for c in requests.values()):
        doubled.append("request keys")
    keyed = sum(session.exec(select(func.count()).select_from(t)).one() for t in KEYED)
    return Check(
        "no duplicated key anywhere",
        not doubled,
        "; ".join(doubled) or f"{keyed} keyed rows, {sum(events.values())} trail entries checked",
    )


def _sink_message_ids(folder: Path) -> Counter[str]:
    found: Counter[str] = Counter()
    for path in folder.glob("*.eml"):
        mail = message_from_bytes(path.read_bytes(), policy=default_policy)
        found[str(mail["Message-ID"] or f"<none:{path.name}>")] += 1
    return found


def mail_once(session: Session, mail_dir: Path, expected: Expected) -> list[Check]:
    """Every mail an order caused is stored once (per kind) and sent; at the sink each sent
    message arrived (none lost) and, beyond the at-least-once window, once."""
    rows = list(session.exec(select(OutboxMessage)))
    per_kind = Counter((r.order_number, r.kind) for r in rows)
    twice = [k for k, c in per_kind.items() if c > 1]
    statuses = Counter(r.status for r in rows)
    kinds_of: dict[str, set[str]] = defaultdict(set)
    for number, kind in per_kind:
        kinds_of[number or ""].add(kind)
    # The completed orders of one kind (prepaid or paid later) all got the same mails.
    completed: dict[bool, set[str]] = defaultdict(set)
    for order in _orders(session):
        if order.status == OrderStatus.COMPLETED:
            completed[order.prepaid].add(order.number or "")
    usual = {
        p: set.intersection(*(kinds_of[n] for n in numbers)) for p, numbers in completed.items()
    }
    uneven = [n for p, numbers in completed.items() for n in numbers if kinds_of[n] != usual[p]]
    described = "; ".join(
        f"{'prepaid' if p else 'paid later'}: {', '.join(sorted(kinds))}"
        for p, kinds in sorted(usual.items())
    )
    received = _sink_message_ids(mail_dir)
    sent = {f"<outbox-{r.id}@conveyor>" for r in rows if r.status == OutboxStatus.SENT}
    lost = sent - set(received)
    strangers = set(received) - sent
    doubles = sum(c - 1 for c in received.values() if c > 1)
    window = expected.kills["worker"] + expected.kills["mail-sink"]
    return [
        Check(
            "every mail stored once, all sent",
            not twice and not uneven and set(statuses) <= {OutboxStatus.SENT},
            f"{len(rows)} outbox rows ({', '.join(f'{s} {c}' for s, c in statuses.items())}); "
            f"per completed order, {described}; "
            f"kind twice for an order: {len(twice)}; completed orders with other kinds: "
            f"{len(uneven)}",
        ),
        Check(
            "every mail arrived (none lost)",
            not lost and not strangers,
            f"{len(sent)} sent, {len(set(received))} distinct at the sink, {len(lost)} lost, "
            f"{len(strangers)} unknown",
        ),
        Check(
            "mail exactly once (at least once: doubles only in the window)",
            doubles <= window,
            f"{doubles} doubled at the sink; worker + sink kills (the most the window allows) "
            f"{window}",
        ),
    ]


async def one_workflow_per_order(client: Client, session: Session) -> Check:
    """Temporal: each order has one workflow (its runs one chain of continue-as-new), done for
    a completed order, running for a waiting one, and no run failed, timed out or ended."""
    status = {f"order-{o.number}": o.status for o in _orders(session)}
    chains: dict[str, list[WorkflowExecutionStatus | None]] = defaultdict(list)
    async for execution in client.list_workflows("", page_size=1000):
        if execution.id.startswith("order-"):
            chains[execution.id].append(execution.status)
    wrong = []
    bad = 0
    for workflow_id, runs in chains.items():
        bad += sum(1 for s in runs if s in BAD_ENDINGS)
        last = [s for s in runs if s != WorkflowExecutionStatus.CONTINUED_AS_NEW]
        want = (
            WorkflowExecutionStatus.COMPLETED
            if status.get(workflow_id) == OrderStatus.COMPLETED
            else WorkflowExecutionStatus.RUNNING
        )
        if last != [want]:
            wrong.append(f"{workflow_id}: {[s.name if s else None for s in runs]}")
    missing = set(status) - set(chains)
    extra = set(chains) - set(status)
    runs_total = sum(len(r) for r in chains.values())
    return Check(
        "one workflow per order, none failed",
        not wrong and not missing and not extra and not bad,
        "; ".join(wrong[:3])
        or f"{len(chains)} workflows ({runs_total} runs), {len(missing)} missing, "
        f"{len(extra)} extra, {bad} failed/terminated/timed out",
    )


async def check_all(
    engine: Engine, client: Client, mail_dir: Path, expected: Expected
) -> list[Check]:
    """Every invariant, in the order the table prints them."""
    with Session(engine) as session:
        checks = [
            orders_once(session, expected),
            orders_at_rest(session),
            stock_matches_ledger(session, expected),
            stock_per_order(session),
            invoices_and_payments(session),
            no_duplicate_keys(session),
            *mail_once(session, mail_dir, expected),
        ]
        checks.append(await one_workflow_per_order(client, session))
    return checks
