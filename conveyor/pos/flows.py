"""Counter flows: record a sale (then start its workflow), take a return back at the counter.

A sale commits its order, payment and drawer takings before Temporal is touched, as every order
does (order flows). A counter return goes through the returns service and the ReturnWorkflow
(restock, credit note, refund) and then pays the refund out of the drawer.
"""

from decimal import Decimal

from sqlmodel import Session

from conveyor.audit.service import Actor
from conveyor.core.idempotency import scoped_key
from conveyor.core.state import AppState, in_intake_session, in_session
from conveyor.order import flows as order_flows
from conveyor.order import service as order_service
from conveyor.order.models import SalesOrder
from conveyor.pos import service as pos_service
from conveyor.pos.models import CounterReturn, CounterReturnPublic, CounterSale, SaleCreate
from conveyor.returns import flows as return_flows
from conveyor.returns import service as return_service
from conveyor.returns.models import ReturnCreate


async def sell(
    state: AppState,
    *,
    sale_in: SaleCreate,
    employee_id: int | None,
    actor: Actor,
    request_key: str | None = None,
) -> tuple[SalesOrder, CounterSale]:
    """Record the counter sale (order, payment, cash) and have its workflow started."""

    def record(session: Session) -> tuple[SalesOrder, CounterSale]:
        try:
            return pos_service.record_sale(
                session=session,
                sale_in=sale_in,
                employee_id=employee_id,
                actor=actor,
                number_prefix=state.settings.order_number_prefix,
                request_key=request_key,
            )
        except order_service.DuplicateRequestError as repeated:
            order = repeated.order
            sale = pos_service.get_sale(session=session, order_number=order.number or "")
            assert sale is not None
            return order, sale

    order, sale = await in_intake_session(state, record)
    if not order.workflow_started:
        order_flows.request_start(state, order)
    return order, sale


async def take_back(
    state: AppState,
    *,
    order_number: str,
    return_in: CounterReturn,
    employee_id: int | None,
    actor: Actor,
    idempotency_key: str | None = None,
) -> CounterReturnPublic:
    """Authorise and receive the goods (all restocked), credit and refund them through the
    returns service and its workflow, then pay a cash refund out of the employee's drawer.

    Refused before anything is recorded: no counter sale, not completed, goods not sold on it,
    a cash sale without an open drawer. A refund that waits for an accountant's approval is
    paid out when the same request (same Idempotency-Key) is repeated after the approval.
    """
    key = scoped_key("pos-return", order_number, idempotency_key)

    def authorise(session: Session) -> str:
        order, sale = pos_service.counter_order(session=session, order_number=order_number)
        if not pos_service.cash_paid_out(session=session, key=key):  # a repeat paid out: as is
            pos_service.check_refund_drawer(session=session, sale=sale, employee_id=employee_id)
        rma = return_service.create(
            session=session,
            key=key,
            order=order,
            return_in=ReturnCreate(lines=return_in.lines, reason=return_in.reason),
            actor=actor,
        )
        return rma.number

    number = await in_session(state, authorise)
    done = await return_flows.receive(state, number=number, received=[], actor=actor)

    def pay_out(session: Session) -> CounterReturnPublic:
        rma = return_service.get_by_number(session=session, number=number)
        assert rma is not None
        _, sale = pos_service.counter_order(session=session, order_number=order_number)
        paid, drawer = Decimal("0.00"), None
        if done:
            paid, drawer = pos_service.pay_out_refund(
                session=session, rma=rma, sale=sale, employee_id=employee_id, actor=actor
            )
        return CounterReturnPublic(
            return_number=rma.number,
            order_number=rma.order_number,
            status=rma.status,
            credit_total=rma.credit_total,
            refund_total=rma.refund_total,
            paid_out=paid,
            drawer_id=drawer.id if drawer else None,
        )

    return await in_session(state, pay_out)
