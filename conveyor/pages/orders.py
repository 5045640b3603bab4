"""The order page for staff: lines, totals, timeline, tasks, mail, activities, support, trail."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from uuid import uuid4

from fastapi import Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep, StateDep
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.auth.permissions import refusal as permission_refusal
from conveyor.core.errors import DomainError, Forbidden, Invalid, NotFound
from conveyor.core.settings import Settings
from conveyor.core.state import AppState, in_session
from conveyor.customer.models import Customer
from conveyor.employee.models import Employee
from conveyor.inventory import margins
from conveyor.invoice import service as invoice_service
from conveyor.invoice.models import PaymentCreate
from conveyor.notification import service as notification_service
from conveyor.order import flows as order_flows
from conveyor.order import policy
from conveyor.order import read as order_read
from conveyor.order import service as order_service
from conveyor.order.enums import STEPS, OrderStatus, Step
from conveyor.order.models import OrderAmend, OrderEvent, OrderLineCreate, SalesOrder
from conveyor.pages.auth import redirect
from conveyor.pages.history import history
from conveyor.pages.numbers import plain_number
from conveyor.pages.rules import parse_lines
from conveyor.pages.web import (
    CsrfChecked,
    SignInRequired,
    WebSessionDep,
    get_customer,
    get_staff,
    page_refusal,
    page_router,
    render,
    require_page,
)
from conveyor.shipping import read as shipping_read
from conveyor.storefeedback import service as store_feedback
from conveyor.support import service as support_service
from conveyor.support.models import ActivityKind, AuthorKind
from conveyor.task import service as task_service
from conveyor.task.models import Task

router = page_router()


@dataclass
class TimelineStep:
    """One of the seven steps as the order page shows it."""

    step: str
    state: str  # done | current | skipped | cancelled | todo
    started_at: datetime | None
    finished_at: datetime | None
    who: str | None
    note: str | None


def timeline(order: SalesOrder, events: list[OrderEvent], tasks: list[Task]) -> list[TimelineStep]:
    """Done, current and to-come steps, with who finished each and when."""
    result = []
    for step in STEPS:
        mine = [e for e in events if e.step == step]
        if step == Step.SERVICE and not mine and order.current_step != step:
            continue  # only orders with service lines have that step

        started = next((e for e in mine if e.kind == "step_started"), None)
        completed = next((e for e in mine if e.kind == "step_completed"), None)
        skipped = next((e for e in mine if e.kind == "step_skipped"), None)
        task = next((t for t in reversed(tasks) if t.step == step), None)
        if skipped:
            state = "skipped"
        elif completed:
            state = "done"
        elif order.current_step == step:
            state = "current"
        elif started and order.status == OrderStatus.CANCELLED:
            state = "cancelled"
        else:
            state = "todo"
        who = task.completed_by if task and task.completed_by else None
        if state == "done" and who is None:
            who = "automatic"
        result.append(
            TimelineStep(
                step=step,
                state=state,
                started_at=started.at if started else None,
                finished_at=(completed or skipped).at if (completed or skipped) else None,
                who=who,
                note=task.note if task else None,
            )
        )
    return result


def can_cancel(order: SalesOrder) -> bool:
    """Cancel is offered before packing, as the workflow allows (the same policy)."""
    return order.status not in (OrderStatus.CANCELLED, OrderStatus.COMPLETED) and (
        policy.can_cancel(order.current_step)
    )


def can_amend(order: SalesOrder) -> bool:
    """Amending is offered until allocation starts, as the workflow allows (the same policy)."""
    return order.status not in (OrderStatus.CANCELLED, OrderStatus.COMPLETED) and (
        policy.can_amend(order.current_step)
    )


def order_context(session: Session, order: SalesOrder) -> dict:
    """Everything the order pages show, read through the services."""
    public = order_read.order_public(session, order)
    events = order_service.events(session=session, order_id=order.id)
    tasks = task_service.list_for_order(session=session, order_id=order.id)
    assignees = {
        t.assignee_id: session.get(Employee, t.assignee_id) for t in tasks if t.assignee_id
    }
    mails, _ = notification_service.list_messages(
        session=session, order_number=order.number, limit=100
    )
    return {
        "order": order,
        "public": public,
        "customer": session.get(Customer, order.customer_id),
        "timeline": timeline(order, events, tasks),
        "tasks": [(t, task_service.sla_state(t), assignees.get(t.assignee_id)) for t in tasks],
        "events": events,
        "mails": mails,
        "messages": support_service.list_messages(session=session, order_id=order.id),
        "activities": support_service.list_activities(session=session, order_id=order.id),
        "invoices": invoice_service.list_for_order(session=session, order_id=order.id),
        "shipments": shipping_read.for_order(session, order.id or 0),
        "store_feedback": store_feedback.unsent(session=session, order_id=order.id or 0),
        "can_cancel": can_cancel(order),
        "can_amend": can_amend(order),
        # Waiting for staff to confirm the service lines delivered (not the step's task).
        "awaits_service": order.current_step == Step.SERVICE
        and order.status not in (OrderStatus.CANCELLED, OrderStatus.COMPLETED)
        and not any(t.step == Step.SERVICE and t.status == "open" for t in tasks),
        "quote_task": next((t for t in tasks if t.step == "quote" and t.status == "open"), None),
        # How many items one stock check covers (the trail says "all 3 items available").
        "units": None if order.allow_partial else sum(line.qty for line in public.lines),
    }


def _modify_refusal(principal: Principal) -> Forbidden | None:
    """Why the caller may not cancel, amend or annotate orders; None when they may."""
    permission = Permission.ORDERS_MODIFY
    return None if principal.can(permission) else Forbidden(permission_refusal(permission))


@router.get("/orders/{number}", include_in_schema=False)
def order_page(
    number: str, request: Request, session: ReadSessionDep, state: StateDep, web: WebSessionDep
) -> Response:
    """Staff see any order; a customer sees only their own (404 for anyone else's)."""
    if web.kind == "customer":
        customer = get_customer(request, state, web)
        order = order_service.get_by_number(session=session, number=number)
        if order is None or order.customer_id != customer.id:
            return page_refusal(request, NotFound(f"order {number} not found"), customer=customer)
        return redirect(request, f"/customer/orders/{number}")
    # Staff and customers share an order's link, so the permission is checked here.
    principal = get_staff(request, state, web)
    if not principal.can(Permission.ORDERS_VIEW):
        return page_refusal(
            request, permission_refusal(Permission.ORDERS_VIEW), principal=principal
        )
    try:
        order = order_read.load(session, number)
        rep = principal.own_accounts_only()
        if rep is not None and order_service.account_rep_of(session, order.customer_id) != rep:
            raise NotFound(f"order {number} not found")
    except NotFound as exc:
        return page_refusal(request, exc, principal=principal)
    may_record = principal.can(Permission.PAYMENTS_RECORD)
    context = order_context(session, order)
    totals = context["public"].totals
    context |= {
        "page": "orders",
        "may_modify": principal.can(Permission.ORDERS_MODIFY),
        "may_record_shipments": principal.can(Permission.SHIPMENTS_RECORD),
        "may_message": principal.can(Permission.CUSTOMERS_MESSAGE),
        "temporal_url": temporal_url(state.settings, number),
        "activity_kinds": list(ActivityKind),
        "may_record_payment": may_record and order.status != OrderStatus.CANCELLED,
        "owes_nothing": order.status == OrderStatus.COMPLETED
        or (totals.invoiced > 0 and totals.balance <= 0),
        "payment_key": uuid4().hex,
        # Cost and margin per line and order, for those who see prices.
        "margins": margins.for_order(session=session, order=order)
        if principal.can(Permission.PRICES_VIEW)
        else None,
    }
    # Who changed the order and its tasks (for those who may read the audit log).
    tasks = [str(task.id) for task, _, _ in context["tasks"]]
    context["history"] = history(session, principal, [("order", [number]), ("task", tasks)])
    return render(request, "order.html", context, principal=principal)


@router.get("/orders/{number}/timeline", include_in_schema=False)
def order_timeline(
    number: str,
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.ORDERS_VIEW)],
) -> Response:
    """The step timeline and the head's status pills (the order page polls them while the
    order runs)."""
    try:
        order = order_read.load(session, number)
    except NotFound as exc:
        return page_refusal(request, exc, principal=principal)
    events = order_service.events(session=session, order_id=order.id)
    tasks = task_service.list_for_order(session=session, order_id=order.id)
    context = {"timeline": timeline(order, events, tasks), "show_notes": True, "order": order}
    return render(request, "_order_live.html", context, principal=principal)


def temporal_url(settings: Settings, number: str) -> str:
    """The order's workflow history in the Temporal Web UI."""
    return (
        f"http://127.0.0.1:{settings.temporal_ui_port}/namespaces/"
        f"{settings.temporal_namespace}/workflows/order-{number}"
    )


async def _load(state: AppState, number: str) -> SalesOrder:
    """The order; NotFound otherwise."""
    return await in_session(state, lambda s: order_read.load(s, number), read_only=True)


@router.post("/orders/{number}/cancel", include_in_schema=False, dependencies=[CsrfChecked])
async def cancel(
    number: str,
    request: Request,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.ORDERS_MODIFY)],
    web: WebSessionDep,
    reason: Annotated[str, Form(max_length=500)] = "",
    confirmed: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    """Cancel with compensation (clearance needed; 409 once packing started), confirmed and
    with a reason."""
    try:
        await _load(state, number)  # an unknown order is a 404, whoever asks
        if refused := _modify_refusal(principal):
            raise refused
        if confirmed != "yes" or not reason.strip():
            raise Invalid("to cancel, give the reason and tick the confirmation")
        await order_flows.cancel(state, number=number, reason=reason.strip(), actor=principal.name)
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)
    web.flash = f"Order {number} cancelled; stock released and open tasks closed."
    return redirect(request, f"/orders/{number}", web)


@router.post(
    "/orders/{number}/service-delivered", include_in_schema=False, dependencies=[CsrfChecked]
)
async def service_delivered(
    number: str,
    request: Request,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.SHIPMENTS_RECORD)],
    web: WebSessionDep,
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Confirm the order's service delivered: the order invoices it and goes on."""
    try:
        await order_flows.confirm_service(
            state, number=number, actor=principal.actor(Source.PAGE), note=note.strip()
        )
    except DomainError as exc:
        back = f"/orders/{number}"
        return page_refusal(
            request, exc, web=web, flash="Not confirmed", back=back, principal=principal
        )
    web.flash = "Service confirmed delivered: the order invoices it."
    return redirect(request, f"/orders/{number}", web)


@router.post("/orders/{number}/amend", include_in_schema=False, dependencies=[CsrfChecked])
async def amend(
    number: str,
    request: Request,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.ORDERS_MODIFY)],
    web: WebSessionDep,
    lines: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Replace the lines (`SKU qty` per line) before allocation; re-priced by the workflow."""
    try:
        parsed = [OrderLineCreate(sku=line.sku, qty=line.qty) for line in parse_lines(lines)]
        if not parsed:
            raise ValueError("an order needs at least one line")
        amendment = OrderAmend(lines=parsed)
        if refused := _modify_refusal(principal):
            raise refused
        await order_flows.amend(
            state,
            number=number,
            lines=[(line.sku, line.qty) for line in amendment.lines],
            actor=principal.name,
        )
    except DomainError as exc:  # 403 and 404 as the error page, the rest as a flash
        back = f"/orders/{number}"
        return page_refusal(
            request, exc, web=web, flash="Not amended", back=back, principal=principal
        )
    except ValidationError as exc:
        web.alert = f"Not amended: {'; '.join(e['msg'] for e in exc.errors())}"
    except ValueError as exc:
        web.alert = f"Not amended: {exc}"
    else:
        web.flash = "Order amended and re-priced."
    return redirect(request, f"/orders/{number}", web)


@router.post("/orders/{number}/payments", include_in_schema=False, dependencies=[CsrfChecked])
async def record_payment(
    number: str,
    request: Request,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.PAYMENTS_RECORD)],
    web: WebSessionDep,
    amount: Annotated[str, Form(max_length=20)] = "",
    method: Annotated[str, Form(max_length=32)] = "bank_transfer",
    reference: Annotated[str, Form(max_length=200)] = "",
    key: Annotated[str, Form(max_length=64)] = "",
    customer_credit: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    """Record money received (accountants); `key` makes a double submit count once. An order
    that owes nothing takes money only as the customer's credit (said so explicitly)."""
    try:
        payment = PaymentCreate(
            amount=plain_number(amount),
            method=method.strip() or "manual",
            reference=reference or None,
            customer_credit=customer_credit == "yes",
        )
        await order_flows.record_payment(
            state,
            order_number=number,
            amount=payment.amount,
            method=payment.method,
            reference=payment.reference,
            idempotency_key=key or None,
            actor=principal.actor(Source.PAGE),
            customer_credit=payment.customer_credit,
        )
    except DomainError as exc:  # 403 and 404 as the error page, the rest as a flash
        back = f"/orders/{number}"
        return page_refusal(
            request, exc, web=web, flash="Not recorded", back=back, principal=principal
        )
    except ValidationError:
        web.alert = "Not recorded: the amount must be a positive number with at most 2 decimals."
    else:
        web.flash = f"Payment of {payment.amount} recorded."
    return redirect(request, f"/orders/{number}", web)


@router.post("/orders/{number}/activities", include_in_schema=False, dependencies=[CsrfChecked])
async def add_activity(
    number: str,
    request: Request,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.ORDERS_MODIFY)],
    web: WebSessionDep,
    kind: Annotated[str, Form(max_length=32)] = ActivityKind.NOTE,
    subject: Annotated[str, Form(max_length=200)] = "",
    body: Annotated[str, Form(max_length=4000)] = "",
    due_at: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Attach a note, call, meeting, delivery window or follow-up (clearance needed)."""
    try:
        if refused := _modify_refusal(principal):
            raise refused
        order = await _load(state, number)
        due = datetime.fromisoformat(due_at).replace(tzinfo=UTC) if due_at else None
        await in_session(
            state,
            lambda s: support_service.add_activity(
                session=s,
                order_id=order.id,
                kind=kind,
                subject=subject,
                body=body,
                due_at=due,
                created_by=principal.name,
            ),
        )
    except (support_service.SupportError, ValueError) as exc:
        web.alert = f"Not added: {exc}"
        return redirect(request, f"/orders/{number}#activities", web)
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)
    web.flash = "Activity added."
    return redirect(request, f"/orders/{number}#activities", web)


@router.post("/orders/{number}/messages", include_in_schema=False, dependencies=[CsrfChecked])
async def reply(
    number: str,
    request: Request,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.CUSTOMERS_MESSAGE)],
    web: WebSessionDep,
    body: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Answer the customer in the order's support history; the reply is mailed to them."""
    try:
        order = await _load(state, number)
        await in_session(
            state,
            lambda s: support_service.post_message(
                session=s,
                order=order,
                author_kind=AuthorKind.STAFF,
                author=principal.name,
                body=body,
                app_url=state.settings.public_url,
                actor=principal.actor(Source.PAGE),
            ),
        )
    except support_service.SupportError as exc:
        web.alert = f"Not sent: {exc}"
        return redirect(request, f"/orders/{number}#support", web)
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)
    web.flash = "Reply sent: the customer gets it by e-mail and in the customer center."
    return redirect(request, f"/orders/{number}#support", web)


__all__ = ["router", "order_context", "timeline", "SignInRequired"]
