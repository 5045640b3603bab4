"""What an order's steps and trail say, and to whom: customers read their own words (no step
names, trail texts, staff addresses or internal reasons); staff read the trail as sentences.

Pure functions of a step, an event kind and the text the trail stored. The trail keeps what the
workflow wrote (replayed workflow decisions and stored rows stay as they are); the wording is
chosen when a page or a mail shows it.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

# The customer's stages, each covering one or more steps: label while it runs, label once done.
CUSTOMER_STAGES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("quote", "Quote", "Quote accepted", ("quote",)),
    ("confirmed", "Confirmed", "Confirmed", ("stock_check", "allocation")),
    ("prepared", "Being prepared", "Prepared and shipped", ("picking", "packing")),
    ("service", "Service under way", "Service delivered", ("service",)),
    ("invoiced", "Invoiced", "Invoiced", ("invoicing",)),
    ("delivery", "On its way", "Delivered", ("delivery",)),
    ("payment", "Awaiting payment", "Paid", ("collection",)),
)

CUSTOMER_STATUS = {
    "quote": "Quote",
    "open": "In progress",
    "backordered": "Waiting for stock",
    "completed": "Completed",
    "cancelled": "Cancelled",
}

STEP_LABELS = {
    "quote": "Quote",
    "stock_check": "Stock check",
    "allocation": "Allocation",
    "picking": "Picking",
    "packing": "Packing",
    "service": "Service",
    "invoicing": "Invoicing",
    "delivery": "Delivery",
    "collection": "Collection",
}

_STEP_DONE = {
    "quote": "Quote answered.",
    "stock_check": "Stock checked: the items are available.",
    "allocation": "Stock allocated to the order.",
    "picking": "Picking done.",
    "packing": "Packing done.",
    "service": "Service delivered.",
    "invoicing": "Invoicing done.",
    "delivery": "Delivered.",
    "collection": "Payment collected in full.",
}

_MODES = {"auto": "automatically", "task": "as a task for a person"}


class StepLike(Protocol):
    """A step as the timeline holds it (conveyor.pages.orders.TimelineStep)."""

    step: str
    state: str
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class CustomerStage:
    """One stage of the customer's progress."""

    key: str
    label: str
    state: str  # done | current | cancelled | todo
    since: datetime | None
    finished_at: datetime | None


def customer_step(step: str | None) -> str:
    """The customer's name for the stage a step belongs to ("—" for none)."""
    for _, label, _, steps in CUSTOMER_STAGES:
        if step in steps:
            return label
    return "—"


def customer_status(status: str) -> str:
    """An order status in the customer's words."""
    return CUSTOMER_STATUS.get(status, status.replace("_", " ").capitalize())


def customer_progress(timeline: Sequence[StepLike], *, quoted: bool) -> list[CustomerStage]:
    """The staff timeline folded into the customer's stages. A stage whose steps were all
    skipped is left out, and so is the quote stage of an order that was never a quote
    (`quoted`: the customer was sent one)."""
    by_step = {s.step: s for s in timeline}
    stages = []
    for key, label, done_label, steps in CUSTOMER_STAGES:
        mine = [by_step[step] for step in steps if step in by_step]
        states = {s.state for s in mine}
        if not mine or states == {"skipped"} or (key == "quote" and not quoted):
            continue
        finished = [s.finished_at for s in mine if s.finished_at]
        if states <= {"done", "skipped"}:
            state, shown = "done", done_label
        elif "cancelled" in states:
            state, shown = "cancelled", label
        elif "current" in states or "done" in states:
            state, shown = "current", label
        else:
            state, shown = "todo", label
        started = [s.started_at for s in mine if s.started_at]
        since = min(started) if started else None
        stages.append(
            CustomerStage(key, shown, state, since, max(finished) if state == "done" else None)
        )
    return stages


def customer_cancel_reason(reason: str | None) -> str | None:
    """The part of a cancel reason a customer may read; None for an internal one."""
    text = (reason or "").strip()
    if match := re.fullmatch(r"quote void: (\S+) was accepted", text):
        return f"you accepted quote {match.group(1)} instead"
    if text.startswith("replaced by the revised quote "):
        return text
    if text in ("quote rejected", "quote declined") or text.startswith("declined in the customer"):
        return "the quote was declined"
    return None


def customer_event(kind: str, message: str) -> str | None:
    """A trail entry as the customer's order history says it; None when it is not theirs."""
    if kind == "packed":
        shipment = re.match(r"shipment (\d+)", message)
        if shipment:
            return f"Part {shipment.group(1)} of your order is packed and on its way."
        return "Your order is packed and on its way."
    if kind == "invoiced":
        invoice = re.search(r"invoice (\S+)", message)
        return f"Invoice {invoice.group(1)} is issued." if invoice else "Your invoice is issued."
    if kind == "cancelled":
        reason = customer_cancel_reason(message.partition(": ")[2])
        return f"Your order was cancelled: {reason}." if reason else "Your order was cancelled."
    return _CUSTOMER_EVENTS.get(kind)


_CUSTOMER_EVENTS = {
    "quote_sent": "We sent you our quote.",
    "quote_expiring": "We reminded you that the quote expires soon.",
    "quote_accepted": "The quote is accepted: your order goes ahead.",
    "quote_voided": "This quote was withdrawn: you accepted another one.",
    "allocated": "Your items are reserved for you.",
    "backordered": "Some items are not in stock yet: we send them as soon as they arrive.",
    "stock_available": "The missing items are in stock again: your order goes ahead.",
    "amended": "Your order was changed.",
    "paid": "We received your payment. Thank you!",
    "payment_reminder": "We reminded you of the amount still open.",
    "completed": "Your order is complete. Thank you!",
}


def _sentence(text: str) -> str:
    """Upper-case first letter, a full stop at the end."""
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def step_label(step: str | None) -> str:
    """A step's name for staff ("Stock check")."""
    return STEP_LABELS.get(step or "", (step or "—").replace("_", " "))


def staff_event(kind: str, step: str | None, message: str, *, units: int | None = None) -> str:
    """A trail entry as a sentence for staff ("Stock checked: all 3 items available.").

    `units`: how many items the order holds, when one stock check covers them all.
    """
    if kind == "step_completed" and step in _STEP_DONE:
        if step == "stock_check" and units:
            return f"Stock checked: all {units} items available."
        return _STEP_DONE[step]
    if kind == "step_started" and (match := re.fullmatch(r"(\w+) \((\w+)\)", message)):
        return f"{step_label(match.group(1))} started {_MODES.get(match.group(2), match.group(2))}."
    if kind == "step_skipped" and (match := re.fullmatch(r"(\w+) skipped by rule (.+)", message)):
        return f"{step_label(match.group(1))} skipped: not needed under rule {match.group(2)}."
    if kind == "pick_list" and (match := re.fullmatch(r"pick list with (\d+) lines", message)):
        lines = int(match.group(1))
        return f"Pick list printed: {lines} line{'' if lines == 1 else 's'}."
    if kind == "task_created" and (
        match := re.fullmatch(r"task (\d+) for role (\S+?)(,.*)?", message)
    ):
        return _sentence(
            f"Task {match.group(1)} created for role {match.group(2)}{match.group(3) or ''}"
        )
    if kind == "task_completed" and (match := re.fullmatch(r"task (\d+): (.*)", message)):
        return _sentence(f"Task {match.group(1)} completed: {match.group(2)}")
    if kind == "invoiced" and (match := re.fullmatch(r"(.*)invoice (\S+) for (\S+)", message)):
        return _sentence(f"{match.group(1)}invoice {match.group(2)} issued for {match.group(3)}")
    text = message.replace("; on-hand deducted", "; the goods left stock on hand")
    text = text.replace("stock committed", "stock reserved")
    return _sentence(text) or _sentence(kind.replace("_", " "))


class PricedLineLike(Protocol):
    """An order or invoice line with how it was priced."""

    qty: int
    list_price: Decimal
    unit_price: Decimal
    line_total: Decimal
    price_rule: str


def percent_off(list_price: Decimal, price: Decimal) -> str | None:
    """How far `price` is below `list_price`, in percent to one decimal ("15", "12.5"); None
    when it is not below."""
    if list_price <= 0 or price >= list_price:
        return None
    return f"{(1 - price / list_price) * 100:.1f}".removesuffix(".0")


def price_note(line: PricedLineLike, *, for_customer: bool) -> str | None:
    """Why a line costs less than list: the agreement (or rule) and the share off list, e.g.
    `Your price: 15 % off list 20.00 (agreement “Gold customers”)`; None at list price."""
    off = percent_off(line.list_price * line.qty, line.line_total)
    if off is None:
        return None
    list_price = f"{line.list_price:,.2f}"
    if for_customer:
        why = customer_price_rule(line.price_rule)
        return f"Your price: {off} % off list {list_price}{f' ({why})' if why else ''}"
    return f"{line.price_rule}: {off} % off list {list_price}"


def customer_price_rule(rule: str) -> str:
    """The rule that priced a line as a customer reads it (`agreement “Gold customers”, order
    discount 5 %`): no internal ids; empty for the list price."""
    parts = []
    if match := re.match(r"agreement \d+: ([^;]+)", rule):
        parts.append(f"agreement “{match.group(1).strip()}”")
    if match := re.search(r"order discount ([\d.]+)%", rule):
        parts.append(f"order discount {match.group(1)} %")
    return ", ".join(parts)
