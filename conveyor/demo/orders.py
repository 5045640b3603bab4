"""Demo orders for a fresh `conveyor dev`: placed and worked through the running API.

Everything goes through the same HTTP API people and stores use (orders, tasks, payments), so
the workflows, tasks, e-mails and trail are real. Only the support history and activities (no
JSON route yet) are written through their service, and a week of finished orders is dated back
(their whole record, so it stays consistent) so the reports have a history to show.
"""

import logging
import time
from datetime import datetime, timedelta

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import select

from conveyor.core.db import session_scope
from conveyor.core.models import utcnow
from conveyor.customer import service as customer_service
from conveyor.invoice import service as invoice_service
from conveyor.invoice.models import Payment
from conveyor.notification import service as notification_service
from conveyor.order import service as order_service
from conveyor.support import service as support_service
from conveyor.support.models import ActivityKind, AuthorKind
from conveyor.task import escalation
from conveyor.task import service as task_service

log = logging.getLogger(__name__)
WAIT_SECONDS = 45.0
# Orders of the past week: (customer e-mail, channel, lines); worked to the end and dated back.
# (MOUSE-WL stays untouched: tests/cli/test_dev.py counts its stock while the demo runs.)
HISTORY = [
    ("jane.doe@example.com", "web", [("LAPTOP-14", 1), ("CABLE-HDMI", 1)]),
    ("purchasing@contoso.example", "phone", [("MON-27", 6), ("CABLE-HDMI", 6)]),
    ("ravi.patel@example.com", "web", [("KB-MECH", 2)]),
    ("einkauf@fabrikam.example", "sales_rep", [("DOCK-USB-C", 8)]),
    ("jane.doe@example.com", "web", [("CHAIR-ERGO", 1)]),
    ("orders@northwind.example", "phone", [("LAPTOP-16", 2), ("MON-27", 2)]),
    ("ravi.patel@example.com", "web", [("PRN-LASER", 1)]),
]
# The shipped web-orders rule's SLA (routing_rules/rules/default.yaml): remind, then reassign.
REMIND_AFTER = timedelta(minutes=15)
ESCALATE_AFTER = timedelta(minutes=30)
# Last week's orders ran through in seconds; dated back, each second reads as 10 minutes of work.
HISTORY_STRETCH = 600.0
TIMESTAMPS = (
    "created_at",
    "updated_at",
    "completed_at",
    "at",
    "assigned_at",
    "due_at",
    "issued_at",
    "received_at",
    "sent_at",
)


class DemoOrders:
    """Places and advances the demo orders; each step is logged and never fatal."""

    def __init__(self, base: str, admin_token: str, accounts: list[dict], engine: Engine) -> None:
        self.api = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {admin_token}"}, timeout=60
        )
        self.tokens = {a["email"]: a["token"] for a in accounts}
        self.emails = {a["id"]: a["email"] for a in accounts}
        self.engine = engine

    def customer_id(self, email: str) -> int:
        with session_scope(self.engine) as session:
            customer = customer_service.get_by_email(session=session, email=email)
            assert customer is not None, email
            return customer.id or 0

    def place(self, email: str, channel: str, lines: list[tuple[str, int]], ref: str) -> str:
        body = {
            "customer_id": self.customer_id(email),
            "channel": channel,
            "lines": [{"sku": sku, "qty": qty} for sku, qty in lines],
            "external_ref": ref,
        }
        answer = self.api.post("/api/orders", json=body)
        answer.raise_for_status()
        return answer.json()["number"]

    def open_task(self, number: str, step: str) -> dict | None:
        """Wait for the order's open task at `step` (None when it does not come in time)."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            order = self.api.get(f"/api/orders/{number}").json()
            for task in order["tasks"]:
                if task["step"] == step and task["status"] == "open":
                    return self.api.get(f"/api/tasks/{task['id']}").json()
            time.sleep(0.3)
        log.warning("demo: no %s task for %s", step, number)
        return None

    def complete(self, number: str, step: str, who: str, outcome: str, note: str) -> None:
        """`who` completes the order's task at `step` (claiming it from the pool first)."""
        task = self.open_task(number, step)
        if task is None:
            return
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        if task["assignee_id"] is None:
            self.api.post(f"/api/tasks/{task['id']}/claim", headers=headers)
        answer = self.api.post(
            f"/api/tasks/{task['id']}/complete",
            json={"outcome": outcome, "note": note},
            headers=headers,
        )
        if answer.status_code != 200:
            log.warning("demo: completing %s %s: %s", number, step, answer.text)

    def pay(self, number: str) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            order = self.api.get(f"/api/orders/{number}").json()
            if order["current_step"] == "collection" and order["totals"]["invoiced"] != "0.00":
                headers = {"Authorization": f"Bearer {self.tokens['ann@conveyor.example']}"}
                self.api.post(
                    f"/api/orders/{number}/payments",
                    json={"amount": order["totals"]["total"], "method": "bank_transfer"},
                    headers=headers,
                )
                return
            time.sleep(0.3)
        log.warning("demo: %s never reached collection", number)

    def run(self) -> int:
        """Place the orders and work some of them (see the module docstring); how many."""
        desk = ["alice@conveyor.example", "bob@conveyor.example", "carol@conveyor.example"]
        # Web orders: an order-desk task each, spread round-robin over Alice, Bob and Carol.
        web = [
            self.place(
                "jane.doe@example.com", "web", [("KB-MECH", 1), ("CABLE-HDMI", 2)], "W-1001"
            ),
            self.place("ravi.patel@example.com", "web", [("MON-27", 1)], "W-1002"),
            self.place("jane.doe@example.com", "web", [("DOCK-USB-C", 1)], "W-1003"),
            self.place("ravi.patel@example.com", "web", [("LAPTOP-14", 1)], "W-1004"),
            self.place("jane.doe@example.com", "web", [("CHAIR-ERGO", 1)], "W-1005"),
        ]
        # Phone and sales-rep orders: the warehouse picks and packs (pool tasks).
        phone = [
            self.place("purchasing@contoso.example", "phone", [("PRN-LASER", 2)], "P-2001"),
            self.place("einkauf@fabrikam.example", "sales_rep", [("MON-27", 4)], "P-2002"),
            self.place("orders@northwind.example", "phone", [("KB-MECH", 10)], "P-2003"),
        ]
        # Large wholesale order: a quote the customer accepts in the customer center.
        quote = self.place(
            "orders@northwind.example", "sales_rep", [("LAPTOP-14", 5), ("DOCK-USB-C", 5)], "Q-3001"
        )
        # The sit-stand desk is out of stock: backordered until goods arrive.
        backordered = self.place("purchasing@contoso.example", "phone", [("DESK-SIT", 2)], "P-2004")
        cancelled = self.place("ravi.patel@example.com", "phone", [("PRN-LASER", 1)], "P-2005")

        # Last week's business, worked to the end, then dated back (see `_date_back`).
        history = [
            self.place(email, channel, lines, f"H-{400 + i}")
            for i, (email, channel, lines) in enumerate(HISTORY)
        ]
        web_history = [h for h, spec in zip(history, HISTORY, strict=True) if spec[1] == "web"]
        for number in [*web[:3], *web_history]:
            task = self.open_task(number, "allocation")
            who = self.emails.get(task["assignee_id"], desk[0]) if task else desk[0]
            self.complete(number, "allocation", who, "approved", "address and payment checked")
        for number in (h for h, spec in zip(history, HISTORY, strict=True) if spec[1] != "web"):
            self.complete(number, "picking", "walter@conveyor.example", "done", "picked")
            self.complete(number, "packing", "walter@conveyor.example", "done", "1 parcel")
        for number in history:
            self.pay(number)
        for number in phone[:2]:
            self.complete(number, "picking", "walter@conveyor.example", "done", "picked")
            self.complete(number, "packing", "walter@conveyor.example", "done", "2 parcels")
        for number in (web[0], phone[0]):
            self.pay(number)
        if self.open_task(cancelled, "picking"):
            self.api.post(f"/api/orders/{cancelled}/cancel", params={"reason": "customer request"})
        self._notes(quote, phone[2], backordered)
        # One web order has waited two hours for the order desk: past its 30-minute SLA, so
        # the monitor has a stuck order to show (its whole record moves back, consistently).
        if task := self.open_task(web[4], "allocation"):
            self._date_back(web[4], timedelta(hours=2))
            self._escalated_in_the_past(web[4], task["id"])
        for days, number in enumerate(history, start=1):
            if self.wait_status(number, "completed"):
                self._date_back(number, timedelta(days=days, hours=3 * days), HISTORY_STRETCH)
        return len(web) + len(phone) + len(history) + 3

    def wait_status(self, number: str, status: str) -> bool:
        """Wait until the order has `status`; False when it does not get there in time."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            if self.api.get(f"/api/orders/{number}").json()["status"] == status:
                return True
            time.sleep(0.3)
        log.warning("demo: %s never became %s", number, status)
        return False

    def _date_back(self, number: str, delta: timedelta, stretch: float = 1.0) -> None:
        """Move an order's whole record back in time (order, trail, tasks, mail...) by `delta`,
        its steps `stretch` times as long as they took (seconds here would read as minutes of
        work in last week's history); due dates keep their SLA after their task's creation."""
        with session_scope(self.engine) as session:
            order = order_service.get_by_number(session=session, number=number)
            assert order is not None
            rows: list = [order]
            rows += order_service.events(session=session, order_id=order.id)
            rows += task_service.list_for_order(session=session, order_id=order.id)
            rows += invoice_service.list_for_order(session=session, order_id=order.id)
            rows += session.exec(select(Payment).where(Payment.order_id == order.id)).all()
            rows += notification_service.list_messages(
                session=session, order_number=number, limit=100
            )[0]
            anchor = order.created_at

            def moved(value: datetime) -> datetime:
                return anchor - delta + (value - anchor) * stretch

            for row in rows:
                created = getattr(row, "created_at", None)
                for name in TIMESTAMPS:
                    value = getattr(row, name, None)
                    if value is None:
                        continue
                    if name == "due_at" and created is not None:
                        setattr(row, name, moved(created) + (value - created))
                    else:
                        setattr(row, name, moved(value))
                session.add(row)

    def _escalated_in_the_past(self, number: str, task_id: int) -> None:
        """What the web-orders rule's SLA did to the task dated back two hours: the reminder
        after 15 minutes and the reassignment after 30, in its trail at those times. When the
        workflow's own timers fire later they find both done and change nothing."""
        with session_scope(self.engine) as session:
            order = order_service.get_by_number(session=session, number=number)
            assert order is not None
            for action, kind, after in (
                ("remind", "sla_reminder", REMIND_AFTER),
                ("reassign", "escalated", ESCALATE_AFTER),
            ):
                done = escalation.escalate(session=session, task_id=task_id, action=action)
                if done is None or done.action == "none":
                    continue
                task = task_service.get(session=session, task_id=task_id)
                assert task is not None
                when = task.created_at + after
                if action == "remind":
                    task.reminded_at = when
                else:
                    task.escalated_at = task.assigned_at = when
                session.add(task)
                event = order_service.add_event(
                    session=session,
                    key=f"{number}:demo:{kind}",
                    order=order,
                    kind=kind,
                    message=f"task {task_id}: {done.message}",
                    step="allocation",
                )
                event.at = when
                session.add(event)

    def _notes(self, quote: str, open_order: str, backordered: str) -> None:
        """Support messages and activities on some of the open orders."""
        with session_scope(self.engine) as session:
            numbers = (quote, open_order, backordered)
            orders = {n: order_service.get_by_number(session=session, number=n) for n in numbers}
            quoted = orders[quote]
            support_service.add_message(
                session=session,
                order_id=quoted.id,
                author_kind=AuthorKind.CUSTOMER,
                author="orders@northwind.example",
                body="Could the laptops come with the German keyboard layout?",
            )
            support_service.add_message(
                session=session,
                order_id=quoted.id,
                author_kind=AuthorKind.STAFF,
                author="sam@conveyor.example",
                body="Yes, at no extra cost. Accept the quote and we ship this week.",
            )
            support_service.add_activity(
                session=session,
                order_id=orders[open_order].id,
                kind=ActivityKind.DELIVERY_WINDOW,
                subject="Deliver Tuesday 9-12, loading dock B",
                created_by="olivia@conveyor.example",
                due_at=utcnow() + timedelta(days=2),
            )
            support_service.add_activity(
                session=session,
                order_id=orders[backordered].id,
                kind=ActivityKind.CALL,
                subject="Call Contoso on Friday about the desk delivery date",
                created_by="olivia@conveyor.example",
                due_at=utcnow() + timedelta(days=3),
            )


def place_demo_orders(
    base: str, admin_token: str, accounts: list[dict], engine: Engine
) -> int | None:
    """Fill a fresh installation with orders in every state; how many, None when it failed
    (logged, never raised)."""
    try:
        placed = DemoOrders(base, admin_token, accounts, engine).run()
    except Exception:
        log.exception("demo orders could not be placed")
        return None
    log.info("demo orders placed: %d", placed)
    return placed
