"""Who gets a notification and what its template sees, read from orders, tasks and people."""

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from conveyor.core.pdf import seller
from conveyor.customer.models import Customer
from conveyor.employee.models import Employee
from conveyor.inventory import service as inventory_service
from conveyor.inventory.documents import ship_to_lines
from conveyor.order import service as order_service
from conveyor.order.models import SalesOrder
from conveyor.purchasing import service as purchasing_service
from conveyor.purchasing.models import PurchaseOrder
from conveyor.shipping import read as shipping_read
from conveyor.task import assignment
from conveyor.task import service as task_service

CUSTOMER_KINDS = (
    "order_confirmation",
    "order_shipped",
    "order_delivered",
    "invoice_issued",
    "payment_received",
    "payment_overdue",
    "quote_sent",
    "quote_expiring",
    "order_amended",
    "order_cancelled",
    "return_received",
    "support_reply",
)


# Who answers customers' messages when their account has no rep.
ORDER_DESK_ROLE = "order_desk"

# The customer mails that carry the quote as a PDF.
QUOTE_KINDS = ("quote_sent", "quote_expiring")


@dataclass
class Composition:
    recipients: list[str]
    context: dict[str, Any]
    attachment: str | None = None  # e.g. "invoice:INV-2026-000001"


def compose(
    *,
    session: Session,
    kind: str,
    order: SalesOrder,
    task_id: int | None,
    to_role: str | None,
    extra: dict[str, str],
    app_url: str,
) -> Composition:
    """Recipients and template context for one notification about `order`.

    Customer mails go to the order's customer. Task mails go to the task's assignee; a task in
    the pool goes to everyone of its role who is on duty (nobody on duty: no recipient).
    """
    customer = session.get(Customer, order.customer_id)
    context: dict[str, Any] = {
        "app_url": app_url,
        "order": order,
        "customer": customer,
        "lines": order_service.lines(session=session, order_id=order.id or 0),
        "extra": extra,
        "to_role": to_role,
        "task": None,
        "recipient_name": customer.name if customer else "",
        "company": seller(),
        "customer_url": None,
    }
    if kind in CUSTOMER_KINDS:
        context["customer_url"] = customer_url(app_url, kind, order, extra)
        context["shipment"], context["shipment_lines"] = shipping_read.with_lines(
            session, order.id or 0, extra.get("shipment")
        )
        return Composition(
            [customer.email] if customer else [], context, attachment=_document(kind, order, extra)
        )
    if kind == "purchase_order":
        number = extra.get("purchase_order_number", "")
        purchase = purchasing_service.get_by_number(session=session, number=number)
        if purchase is None:
            return Composition([], context)
        context["purchase_order"] = purchase
        context["purchase_lines"] = purchasing_service.lines(
            session=session, purchase_order_id=purchase.id or 0
        )
        context["recipient_name"] = purchase.supplier_email
        # A drop-ship goes to the order's delivery address (the customer's name and country
        # when the order has none).
        context["ship_to"] = ship_to_lines(order, customer)
        return Composition([purchase.supplier_email], context)
    if kind == "customer_message":
        return _to_order_desk(session, customer, context)
    task = task_service.get(session=session, task_id=task_id) if task_id else None
    if task is None:
        return Composition([], context)
    context["task"] = task
    assignee = session.get(Employee, task.assignee_id) if task.assignee_id else None
    if assignee is not None:
        context["recipient_name"] = assignee.name
        return Composition([assignee.email], context)
    on_duty = assignment.on_duty_with_role(session=session, role=task.role)
    context["recipient_name"] = f"{task.role} team"
    return Composition([e.email for e in on_duty], context)


def compose_stock_purchase(
    *, session: Session, purchase: PurchaseOrder, app_url: str
) -> Composition:
    """The mail of a purchase order for stock: to its supplier, with lines, prices and the
    warehouse to deliver to."""
    warehouse = inventory_service.get_warehouse(session=session, code=purchase.warehouse or "")
    context: dict[str, Any] = {
        "app_url": app_url,
        "order": None,
        "customer": None,
        "extra": {},
        "purchase_order": purchase,
        "purchase_lines": purchasing_service.lines(
            session=session, purchase_order_id=purchase.id or 0
        ),
        "purchase_public": purchasing_service.to_public(session=session, purchase=purchase),
        "warehouse": warehouse,
        "recipient_name": purchase.supplier_email,
        "company": seller(),
        "customer_url": None,
    }
    return Composition([purchase.supplier_email], context)


def _to_order_desk(
    session: Session, customer: Customer | None, context: dict[str, Any]
) -> Composition:
    """A customer's message goes to their account rep, else to the order desk on duty."""
    rep = (
        session.get(Employee, customer.account_rep_id)
        if customer and customer.account_rep_id
        else None
    )
    if rep is not None and rep.active:
        context["recipient_name"] = rep.name
        return Composition([rep.email], context)
    on_duty = assignment.on_duty_with_role(session=session, role=ORDER_DESK_ROLE)
    context["recipient_name"] = "order desk"
    return Composition([e.email for e in on_duty], context)


def customer_url(app_url: str, kind: str, order: SalesOrder, extra: dict[str, str]) -> str:
    """Where a customer mail sends its reader: the invoice it announces, else the order, in
    the customer center."""
    invoice = extra.get("invoice_number") if kind == "invoice_issued" else None
    if invoice:
        return f"{app_url}/customer/invoices/{invoice}"
    return f"{app_url}/customer/orders/{order.number}"


def _document(kind: str, order: SalesOrder, extra: dict[str, str]) -> str | None:
    """The document a customer mail attaches: the invoice it announces, the quote it sends."""
    invoice = extra.get("invoice_number") if kind == "invoice_issued" else None
    if invoice:
        return f"invoice:{invoice}"
    return f"quote:{order.number}" if kind in QUOTE_KINDS and order.number else None
