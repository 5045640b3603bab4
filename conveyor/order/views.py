"""Order endpoints: place, list, read, cancel, amend, record a payment."""

from typing import Annotated

from fastapi import APIRouter, Header, Query, status
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep, StateDep, require
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission, refusal
from conveyor.core import keyset
from conveyor.core.errors import Forbidden, Invalid, NotFound
from conveyor.core.idempotency import scoped_key
from conveyor.core.state import in_session
from conveyor.invoice.models import PaymentCreate
from conveyor.order import flows as order_flows
from conveyor.order import read as order_read
from conveyor.order import service as order_service
from conveyor.order.enums import Channel, OrderStatus, Step
from conveyor.order.models import (
    OrderAmend,
    OrderCreate,
    OrderPublic,
    OrdersPublic,
    OrderTotals,
    QuoteRevision,
    ServiceConfirmation,
)
from conveyor.order.policy import STORE_REFERENCE

router = APIRouter()
OrderPlacer = Annotated[Principal, require(Permission.ORDERS_PLACE)]
OrderViewer = Annotated[Principal, require(Permission.ORDERS_VIEW)]
OrderModifier = Annotated[Principal, require(Permission.ORDERS_MODIFY)]
Accountant = Annotated[Principal, require(Permission.PAYMENTS_RECORD)]
# Whoever records deliveries confirms a service delivered too.
ServiceRecorder = Annotated[Principal, require(Permission.SHIPMENTS_RECORD)]


def check_order_terms(principal: Principal, order_in: OrderCreate) -> None:
    """Refuse what a person may not put on an order they place (issue 12, finding 1).

    Prepaid comes from a verified store or payment webhook (or the admin token, for imports),
    a counter sale from the counter (`/api/pos/sales`, which records its payment with it);
    the channel, charges and tax-inclusive prices need `orders.terms`; the `<store>:` reference
    namespace belongs to the webhooks.
    """
    if order_in.prepaid and not principal.is_admin:
        raise Forbidden("prepaid orders come from a verified store or payment webhook")
    if order_in.channel == Channel.POS and not principal.is_admin:
        # The counter rule runs such an order straight through: its payment must come with it.
        raise Forbidden("counter sales are recorded at POST /api/pos/sales, paid as they are made")
    if order_in.external_ref and STORE_REFERENCE.match(order_in.external_ref):
        raise Forbidden(f"external_ref {order_in.external_ref!r} is in a store's namespace")
    custom = [
        name
        for name, used in (
            ("channel", order_in.channel != Channel.SALES_REP),
            ("charges", bool(order_in.charges)),
            ("prices_include_tax", order_in.prices_include_tax),
        )
        if used
    ]
    if custom and not principal.can(Permission.ORDERS_TERMS):
        raise Forbidden(f"setting {', '.join(custom)} needs orders.terms")


async def check_own_account(state: StateDep, principal: Principal, customer_id: int) -> None:
    """The sales record rule: a rep below the all-accounts clearance places orders for the
    customers they own only; another customer is as unknown to them (422, as the service
    answers for a customer that does not exist)."""
    rep = principal.own_accounts_only()
    if rep is None:
        return
    owner = await in_session(
        state, lambda s: order_service.account_rep_of(s, customer_id), read_only=True
    )
    if owner != rep:
        raise Invalid(f"customer {customer_id} not found")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OrderPublic)
async def place_order(
    order_in: OrderCreate,
    state: StateDep,
    principal: OrderPlacer,
    idempotency_key: str | None = Header(default=None, max_length=150),
) -> OrderPublic:
    """Record an order, answered once committed; its workflow starts right after, off the
    request. 422: a rule broken (unknown SKU, customer...); 409: a repeated `external_ref`
    (both answered by the domain error handler); 403: a field the caller may not set.
    `quote: true` makes it a quote whatever the routing rules say, valid until
    `quote_valid_until`. The same `Idempotency-Key` again answers the order it placed."""
    check_order_terms(principal, order_in)
    await check_own_account(state, principal, order_in.customer_id)
    order = await order_flows.place_order(
        state,
        order_in=order_in,
        created_by=principal.name,
        actor=principal.actor(Source.API),
        request_key=order_request_key(principal, idempotency_key),
    )
    return await _read(state, order.number or "")


def order_request_key(principal: Principal, idempotency_key: str | None) -> str | None:
    """The idempotency key of an order request, scoped to the caller (None without a key)."""
    if not idempotency_key:
        return None
    return scoped_key("order", principal.name, idempotency_key)


@router.post("/{number}/revise", status_code=status.HTTP_201_CREATED, response_model=OrderPublic)
async def revise_quote(
    number: str, revision: QuoteRevision, state: StateDep, principal: OrderModifier
) -> OrderPublic:
    """A new version of an open quote (re-priced; answered with it): the old one is superseded,
    cannot be accepted any more and names the new one. 409 unless an open quote; 403 without
    orders.place, or charges without orders.terms."""
    await check_may_revise(state, principal, number, revision)
    new = await order_flows.revise_quote(
        state,
        number=number,
        revision=revision,
        created_by=principal.name,
        actor=principal.actor(Source.API),
    )
    return await _read(state, new.number or "")


async def check_may_revise(
    state: StateDep, principal: Principal, number: str, revision: QuoteRevision
) -> None:
    """Revising places a new quote and voids the old one: both permissions, and the rep's own
    accounts only (404 for an order they may not see)."""
    if not principal.can(Permission.ORDERS_PLACE):
        raise Forbidden(refusal(Permission.ORDERS_PLACE))
    if revision.charges and not principal.can(Permission.ORDERS_TERMS):
        raise Forbidden("setting charges needs orders.terms")
    rep = principal.own_accounts_only()
    if rep is None:
        return

    def owner(session: Session) -> int | None:
        order = order_read.load(session, number)
        return order_service.account_rep_of(session, order.customer_id)

    if await in_session(state, owner, read_only=True) != rep:
        raise NotFound(f"order {number} not found")


@router.get("", response_model=OrdersPublic)
def list_orders(
    session: ReadSessionDep,
    principal: OrderViewer,
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
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> OrdersPublic:
    """Orders, newest first; filters: status, step, channel, customer, external ref, text,
    `needs_review` (store orders waiting for the order desk), `opportunity` (sibling quotes).

    Deep pages: pass the answer's `next_cursor` as `cursor` (the same filters; `page` is then
    ignored). `count` stops at 10,000 (`count_exact` false beyond)."""
    query = order_service.orders_query(
        status=status_,
        step=step,
        channel=channel,
        customer_id=customer_id,
        external_ref=external_ref,
        q=q,
        needs_review=needs_review,
        opportunity=opportunity,
        account_rep_id=principal.own_accounts_only(),
    )
    found = keyset.values_page(
        session,
        query,
        order_service.NEWEST_FIRST,
        limit=page_size,
        offset=(page - 1) * page_size,
        after=cursor,
    )
    # Plain values, validated in one pass for the whole page.
    return OrdersPublic.model_validate(
        {
            "data": [o._mapping for o in found.rows],
            "count": found.count,
            "page": page,
            "page_size": page_size,
            "count_exact": found.exact,
            "next_cursor": found.next_cursor,
        }
    )


async def _read(state: StateDep, number: str) -> OrderPublic:
    return await in_session(
        state, lambda session: order_read.get_public(session, number), read_only=True
    )


@router.get("/{number}", response_model=OrderPublic)
def read_order(number: str, session: ReadSessionDep, principal: OrderViewer) -> OrderPublic:
    """One order with lines, totals, tasks and trail (404 for an order the caller may not see)."""
    order = order_read.get_public(session, number)
    rep = principal.own_accounts_only()
    if rep is not None and order_service.account_rep_of(session, order.customer_id) != rep:
        raise NotFound(f"order {number} not found")
    return order


@router.post("/{number}/cancel", response_model=OrderPublic)
async def cancel_order(
    number: str,
    state: StateDep,
    principal: OrderModifier,
    reason: Annotated[str, Query(max_length=500)] = "",
) -> OrderPublic:
    """Cancel before packing: committed stock is released, open tasks closed. 409 if too late."""
    await order_flows.cancel(state, number=number, reason=reason, actor=principal.name)
    return await _read(state, number)


@router.post("/{number}/service-delivered", response_model=OrderPublic)
async def service_delivered(
    number: str, confirmation: ServiceConfirmation, state: StateDep, principal: ServiceRecorder
) -> OrderPublic:
    """The order's service lines were delivered (a note optional): the order invoices them and
    goes on to collection. 409: no service lines, finished, or its service step is a task."""
    await order_flows.confirm_service(
        state, number=number, actor=principal.actor(Source.API), note=confirmation.note
    )
    return await _read(state, number)


@router.post("/{number}/amend", response_model=OrderPublic)
async def amend_order(
    number: str, amendment: OrderAmend, state: StateDep, principal: OrderModifier
) -> OrderPublic:
    """Replace the order's lines before allocation (re-priced; 409 once allocation started)."""
    lines = [(line.sku, line.qty) for line in amendment.lines]
    await order_flows.amend(state, number=number, lines=lines, actor=principal.name)
    return await _read(state, number)


@router.post("/{number}/payments", status_code=status.HTTP_201_CREATED, response_model=OrderTotals)
async def record_payment(
    number: str,
    payment_in: PaymentCreate,
    state: StateDep,
    principal: Accountant,
    idempotency_key: str | None = Header(default=None, max_length=150),
) -> OrderTotals:
    """Record money received for an order (accountant); the workflow resumes collection.

    409 when the order owes nothing (completed or fully paid), unless `customer_credit` is
    true: then the money is kept as the customer's credit (it lowers their open receivables).
    """
    await order_flows.record_payment(
        state,
        order_number=number,
        amount=payment_in.amount,
        method=payment_in.method,
        reference=payment_in.reference,
        idempotency_key=idempotency_key,
        actor=principal.actor(Source.API),
        customer_credit=payment_in.customer_credit,
    )
    return (await _read(state, number)).totals
