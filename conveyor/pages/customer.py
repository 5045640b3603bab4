"""Customer center: a customer's own orders, details, quote acceptance, support messages."""

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import ReadSessionDep, StateDep
from conveyor.core.errors import NotFound
from conveyor.core.settings import Settings
from conveyor.core.state import in_session
from conveyor.invoice import statement as invoice_statement
from conveyor.order import flows as order_flows
from conveyor.order import service as order_service
from conveyor.order import wording
from conveyor.order.enums import OrderStatus
from conveyor.order.models import SalesOrder
from conveyor.pages.auth import redirect
from conveyor.pages.orders import order_context
from conveyor.pages.web import (
    CsrfChecked,
    CustomerDep,
    WebSessionDep,
    page_refusal,
    page_router,
    render,
)
from conveyor.shop.flows import customer_actor
from conveyor.support import service as support_service
from conveyor.support.models import AuthorKind, SupportMessage
from conveyor.task import service as task_service
from conveyor.task.models import Task
from conveyor.terms import service as terms_service

router = page_router()


@router.get("/customer", include_in_schema=False)
def center(
    request: Request, session: ReadSessionDep, state: StateDep, customer: CustomerDep
) -> Response:
    """The customer's orders, newest first; open quotes on top."""
    orders, count = order_service.list_orders(session=session, customer_id=customer.id, limit=100)
    quotes = [(o, quote_expiry(session, o, state.settings)) for o in orders if o.status == "quote"]
    terms = terms_service.for_customer(session=session, customer=customer)
    context = {
        "orders": orders,
        "count": count,
        "quotes": quotes,
        "page": "customer",
        "terms": terms_service.describe_terms(terms),
        **invoice_statement.form_defaults(),
    }
    return render(request, "customer.html", context, customer=customer)


def quote_expiry(session: Session, order: SalesOrder, settings: Settings) -> str | None:
    """Until when an open quote holds, as the customer reads it: its validity date, or (a quote
    the rules made) the settings' validity from when it was sent."""
    if order.status != OrderStatus.QUOTE:
        return None
    if order.quote_valid_until is not None:
        return order.quote_valid_until.strftime("%d %B %Y")
    events = order_service.events(session=session, order_id=order.id)
    sent = next((e for e in events if e.kind == "quote_sent"), None)
    if sent is None:
        return None
    until = sent.at + timedelta(seconds=settings.quote_validity_seconds)
    return until.strftime("%d %B %Y, %H:%M UTC")


def _own(session: Session, customer_id: int, number: str) -> SalesOrder:
    order = order_service.get_by_number(session=session, number=number)
    if order is None or order.customer_id != customer_id:
        # Someone else's order looks exactly like a missing one.
        raise NotFound(f"order {number} not found")
    return order


@router.get("/customer/orders/{number}", include_in_schema=False)
def customer_order(
    number: str, request: Request, session: ReadSessionDep, state: StateDep, customer: CustomerDep
) -> Response:
    """One of the customer's orders: status, timeline, lines, invoices, support history."""
    try:
        order = _own(session, customer.id, number)
    except NotFound as exc:
        return page_refusal(request, exc, customer=customer)
    context = order_context(session, order)
    context |= {
        "page": "customer",
        "progress": wording.customer_progress(
            context["timeline"], quoted=any(e.kind == "quote_sent" for e in context["events"])
        ),
        "valid_until": quote_expiry(session, order, state.settings),
        "history": [
            (event.at, text)
            for event in reversed(context["events"])
            if (text := wording.customer_event(event.kind, event.message))
        ],
    }
    return render(request, "customer_order.html", context, customer=customer)


@router.post("/customer/orders/{number}/quote", include_in_schema=False, dependencies=[CsrfChecked])
async def answer_quote(
    number: str,
    request: Request,
    state: StateDep,
    customer: CustomerDep,
    web: WebSessionDep,
    decision: Annotated[Literal["accept", "decline"], Form()] = "accept",
    reason: Annotated[str, Form(max_length=500)] = "",
    confirmed: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    """Accept (the order goes ahead at the quoted prices) or decline (it is cancelled: confirmed
    and with a reason)."""
    if decision == "decline" and (confirmed != "yes" or not reason.strip()):
        web.alert = "To decline the quote, tell us why and tick the confirmation."
        return redirect(request, f"/customer/orders/{number}", web)

    def find(session: Session) -> Task | None:
        order = _own(session, customer.id, number)
        tasks = task_service.list_for_order(session=session, order_id=order.id)
        return next((t for t in tasks if t.step == "quote" and t.status == "open"), None)

    try:
        task = await in_session(state, find, read_only=True)
    except NotFound as exc:
        return page_refusal(request, exc, customer=customer)
    if task is None:
        web.alert = "This order has no open quote."
        return redirect(request, f"/customer/orders/{number}", web)
    accepted = decision == "accept"
    try:
        await order_flows.complete_task(
            state,
            order_number=number,
            task_id=task.id or 0,
            outcome="approved" if accepted else "rejected",
            note=(
                "accepted in the customer center"
                if accepted
                else f"declined in the customer center: {reason.strip()}"
            ),
            actor=customer.email,
        )
    except order_flows.WorkflowRefusedError as exc:  # the quote expired or was answered
        return page_refusal(
            request,
            exc,
            web=web,
            flash="The quote could not be answered",
            back=f"/customer/orders/{number}",
            customer=customer,
        )
    web.flash = (
        "Thank you: the quote is accepted and your order is on its way."
        if accepted
        else "The quote is declined."
    )
    return redirect(request, f"/customer/orders/{number}", web)


@router.post(
    "/customer/orders/{number}/messages", include_in_schema=False, dependencies=[CsrfChecked]
)
async def send_message(
    number: str,
    request: Request,
    state: StateDep,
    customer: CustomerDep,
    web: WebSessionDep,
    body: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Write to support about this order: staff see it on the order page and among the
    unanswered messages, and the account rep (else the order desk on duty) gets a mail."""

    def add(session: Session) -> SupportMessage:
        order = _own(session, customer.id, number)
        return support_service.post_message(
            session=session,
            order=order,
            author_kind=AuthorKind.CUSTOMER,
            author=customer.email,
            body=body,
            app_url=state.settings.public_url,
            actor=customer_actor(customer),
        )

    try:
        await in_session(state, add)
    except NotFound as exc:
        return page_refusal(request, exc, customer=customer)
    except support_service.SupportError as exc:
        web.alert = f"Not sent: {exc}"
        return redirect(request, f"/customer/orders/{number}#support", web)
    web.flash = "Message sent. Our team will answer here."
    return redirect(request, f"/customer/orders/{number}#support", web)
