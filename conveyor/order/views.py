"""Order endpoints: place, list, read, cancel, record a payment."""

from decimal import Decimal
from typing import Annotated
from uuid import uuid4

from fastapi import APIRouter, Header, HTTPException, Query, status
from sqlmodel import Session

from api.deps import CurrentPrincipal, Principal, ReadSessionDep, StateDep
from conveyor.core.state import in_session
from conveyor.inventory import service as inventory_service
from conveyor.invoice import service as invoice_service
from conveyor.invoice.models import PaymentCreate
from conveyor.order import flows as order_flows
from conveyor.order import service as order_service
from conveyor.order.enums import Channel, OrderStatus, Step
from conveyor.order.models import (
    OrderAmend,
    OrderChargePublic,
    OrderCreate,
    OrderEventPublic,
    OrderLinePublic,
    OrderPublic,
    OrdersPublic,
    OrderSummary,
    OrderTaskPublic,
    OrderTotals,
    SalesOrder,
)
from conveyor.task import service as task_service
from workflows.types import AmendLine, AmendRequest, CancelRequest

router = APIRouter()
MODIFY_CLEARANCE = 2


def _money_received(session: Session, order_id: int) -> dict[str, Decimal]:
    """Invoiced, paid and credited so far, and the balance the customer still owes."""
    invoiced = invoice_service.invoiced_total(session=session, order_id=order_id)
    paid = invoice_service.paid_total(session=session, order_id=order_id)
    credited = invoice_service.credited_total(session=session, order_id=order_id)
    return {
        "invoiced": invoiced,
        "paid": paid,
        "credited": credited,
        "balance": invoiced - credited - paid,
    }


def _load(session: Session, number: str) -> SalesOrder:
    order = order_service.get_by_number(session=session, number=number)
    if order is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"order {number} not found")
    return order


def _require_modify(principal: Principal) -> None:
    if principal.is_admin:
        return
    if principal.employee is None or principal.employee.clearance < MODIFY_CLEARANCE:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"modifying orders needs clearance {MODIFY_CLEARANCE}"
        )


def order_public(session: Session, order: SalesOrder) -> OrderPublic:
    """The full view of an order: lines, totals, tasks and trail."""
    return OrderPublic(
        **OrderSummary.model_validate(order).model_dump(),
        rule=order.rule,
        rules_version=order.rules_version,
        lines=[
            OrderLinePublic.model_validate(line)
            for line in order_service.lines(session=session, order_id=order.id)
        ],
        charges=[
            OrderChargePublic.model_validate(charge)
            for charge in order_service.charges(session=session, order_id=order.id)
        ],
        totals=OrderTotals(
            currency=order.currency,
            subtotal=order.subtotal,
            discount=order.discount_total,
            charges=order.charges_total,
            tax=order.tax_total,
            tax_included=order.prices_include_tax,
            total=order.total,
            **_money_received(session, order.id),
        ),
        tasks=[
            OrderTaskPublic.model_validate(task)
            for task in task_service.list_for_order(session=session, order_id=order.id)
        ],
        events=[
            OrderEventPublic.model_validate(event)
            for event in order_service.events(session=session, order_id=order.id)
        ],
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OrderPublic)
async def place_order(
    order_in: OrderCreate, state: StateDep, principal: CurrentPrincipal
) -> OrderPublic:
    """Record an order and start its workflow. A repeated `external_ref` answers 409."""
    try:
        order = await order_flows.place_order(state, order_in=order_in, created_by=principal.name)
    except order_service.OrderError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    except order_service.DuplicateExternalRefError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return await _read(state, order.number or "")


@router.get("", response_model=OrdersPublic)
def list_orders(
    session: ReadSessionDep,
    _: CurrentPrincipal,
    status_: Annotated[OrderStatus | None, Query(alias="status")] = None,
    step: Step | None = None,
    channel: Channel | None = None,
    customer_id: int | None = None,
    external_ref: str | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    needs_review: bool | None = None,
    opportunity: Annotated[str | None, Query(max_length=64)] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> OrdersPublic:
    """Orders, newest first; filters: status, step, channel, customer, external ref, text,
    `needs_review` (store orders waiting for the order desk), `opportunity` (sibling quotes)."""
    rows, count = order_service.list_orders(
        session=session,
        status=status_,
        step=step,
        channel=channel,
        customer_id=customer_id,
        external_ref=external_ref,
        q=q,
        needs_review=needs_review,
        opportunity=opportunity,
        limit=page_size,
        offset=(page - 1) * page_size,
    )
    return OrdersPublic(
        data=[OrderSummary.model_validate(o) for o in rows],
        count=count,
        page=page,
        page_size=page_size,
    )


async def _read(state: StateDep, number: str) -> OrderPublic:
    return await in_session(
        state, lambda session: order_public(session, _load(session, number)), read_only=True
    )


@router.get("/{number}", response_model=OrderPublic)
def read_order(number: str, session: ReadSessionDep, _: CurrentPrincipal) -> OrderPublic:
    """One order with lines, totals, tasks and trail."""
    return order_public(session, _load(session, number))


@router.post("/{number}/cancel", response_model=OrderPublic)
async def cancel_order(
    number: str,
    state: StateDep,
    principal: CurrentPrincipal,
    reason: Annotated[str, Query(max_length=500)] = "",
) -> OrderPublic:
    """Cancel before packing: committed stock is released, open tasks closed. 409 if too late."""
    _require_modify(principal)
    order = await in_session(state, lambda session: _load(session, number), read_only=True)
    if order.status in (OrderStatus.CANCELLED, OrderStatus.COMPLETED):
        raise HTTPException(status.HTTP_409_CONFLICT, f"order {number} is already {order.status}")
    try:
        await order_flows.cancel_order(
            state, order_number=number, request=CancelRequest(reason=reason, actor=principal.name)
        )
    except order_flows.WorkflowRefusedError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return await _read(state, number)


@router.post("/{number}/amend", response_model=OrderPublic)
async def amend_order(
    number: str, amendment: OrderAmend, state: StateDep, principal: CurrentPrincipal
) -> OrderPublic:
    """Replace the order's lines before allocation (re-priced; 409 once allocation started)."""
    _require_modify(principal)

    def check(session: Session) -> SalesOrder:
        order = _load(session, number)
        known = inventory_service.get_many(session=session, skus=[ln.sku for ln in amendment.lines])
        unknown = sorted({ln.sku for ln in amendment.lines} - set(known))
        if unknown:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown SKU: {', '.join(unknown)}"
            )
        return order

    order = await in_session(state, check, read_only=True)
    if order.status in (OrderStatus.CANCELLED, OrderStatus.COMPLETED):
        raise HTTPException(status.HTTP_409_CONFLICT, f"order {number} is already {order.status}")
    request = AmendRequest(
        lines=[AmendLine(sku=ln.sku, qty=ln.qty) for ln in amendment.lines], actor=principal.name
    )
    try:
        await order_flows.amend_order(state, order_number=number, request=request)
    except order_flows.WorkflowRefusedError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return await _read(state, number)


@router.post("/{number}/payments", status_code=status.HTTP_201_CREATED, response_model=OrderTotals)
async def record_payment(
    number: str,
    payment_in: PaymentCreate,
    state: StateDep,
    principal: CurrentPrincipal,
    idempotency_key: str | None = Header(default=None),
) -> OrderTotals:
    """Record money received for an order (accountant); the workflow resumes collection."""
    if not principal.has_role("accountant"):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "recording payments needs the accountant role"
        )
    order = await in_session(state, lambda session: _load(session, number), read_only=True)
    if order.status == OrderStatus.CANCELLED:
        raise HTTPException(status.HTTP_409_CONFLICT, f"order {number} is cancelled")
    await order_flows.record_payment(
        state,
        key=f"payment:{idempotency_key or uuid4()}",
        order_number=number,
        amount=payment_in.amount,
        method=payment_in.method,
        reference=payment_in.reference,
    )
    return (await _read(state, number)).totals
