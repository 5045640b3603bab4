"""Counter (POS) endpoints: the caller's cash drawer, counter sales, receipts, counter returns."""

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep, SessionDep, StateDep, require
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.core.errors import Conflict, NotFound
from conveyor.core.idempotency import scoped_key
from conveyor.core.state import in_session
from conveyor.invoice import service as invoice_service
from conveyor.order.models import SalesOrder
from conveyor.pos import drawer as drawer_service
from conveyor.pos import flows as pos_flows
from conveyor.pos import receipt
from conveyor.pos import service as pos_service
from conveyor.pos.models import (
    CashDrawer,
    CounterReturn,
    CounterReturnPublic,
    CounterSale,
    DrawerClose,
    DrawerOpen,
    DrawerPublic,
    DrawersPublic,
    SaleCreate,
    SalePublic,
)
from conveyor.returns import service as return_service
from conveyor.returns.models import ReturnStatus

router = APIRouter()
Seller = Annotated[Principal, require(Permission.POS_SELL)]
Refunder = Annotated[Principal, require(Permission.POS_REFUND)]
DrawerViewer = Annotated[Principal, require(Permission.POS_DRAWERS)]


def employee_of(principal: Principal) -> int:
    """The caller's employee id: a cash drawer is a person's (the admin token has none)."""
    if principal.employee_id is None:
        raise Conflict("the admin token has no cash drawer: sign in as the employee at the till")
    return principal.employee_id


def drawer_public(session: Session, drawer: CashDrawer) -> DrawerPublic:
    """The drawer session with its cash sales and refunds."""
    sales, refunds = drawer_service.totals(session=session, drawer_id=drawer.id or 0)
    return DrawerPublic.model_validate(
        drawer, update={"cash_sales": sales, "cash_refunds": refunds}
    )


def sale_public(session: Session, order: SalesOrder, sale: CounterSale) -> SalePublic:
    """The counter sale as answered: its order, how it was paid, the receipt's address."""
    number = order.number or ""
    return SalePublic(
        order_number=number,
        status=order.status,
        customer_id=order.customer_id,
        currency=order.currency,
        total=order.total,
        tender=sale.tender,
        tendered=sale.tendered,
        change=sale.change,
        paid=invoice_service.paid_total(session=session, order_id=order.id or 0),
        drawer_id=sale.drawer_id,
        receipt_url=f"/api/pos/sales/{number}/receipt",
    )


@router.get("/drawer", response_model=DrawerPublic)
def read_drawer(session: ReadSessionDep, principal: Seller) -> DrawerPublic:
    """The caller's open cash drawer session: float, expected cash. 404 when none is open."""
    drawer = drawer_service.open_of(session=session, employee_id=employee_of(principal))
    if drawer is None:
        raise NotFound("no open cash drawer")
    return drawer_public(session, drawer)


@router.post("/drawer/open", status_code=status.HTTP_201_CREATED, response_model=DrawerPublic)
def open_drawer(drawer_in: DrawerOpen, session: SessionDep, principal: Seller) -> DrawerPublic:
    """Open the caller's cash drawer session with its opening float. 409 while one is open."""
    drawer = drawer_service.open_drawer(
        session=session,
        employee_id=employee_of(principal),
        drawer_in=drawer_in,
        actor=principal.actor(Source.API),
    )
    return drawer_public(session, drawer)


@router.post("/drawer/close", response_model=DrawerPublic)
def close_drawer(close_in: DrawerClose, session: SessionDep, principal: Seller) -> DrawerPublic:
    """Close the caller's session with the cash counted; the difference (counted - expected)
    is recorded and audited. 409 without an open session."""
    drawer = drawer_service.close_drawer(
        session=session,
        employee_id=employee_of(principal),
        close_in=close_in,
        actor=principal.actor(Source.API),
    )
    return drawer_public(session, drawer)


@router.get("/drawers", response_model=DrawersPublic)
def list_drawers(
    session: ReadSessionDep,
    _: DrawerViewer,
    employee_id: Annotated[int | None, Query(gt=0, le=2**31 - 1)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DrawersPublic:
    """Everybody's drawer sessions, newest first (`?employee_id=` for one person's)."""
    rows, count = drawer_service.list_drawers(
        session=session, employee_id=employee_id, limit=page_size, offset=(page - 1) * page_size
    )
    return DrawersPublic(data=[drawer_public(session, row) for row in rows], count=count)


@router.post("/sales", status_code=status.HTTP_201_CREATED, response_model=SalePublic)
async def sell(
    sale_in: SaleCreate,
    state: StateDep,
    principal: Seller,
    idempotency_key: Annotated[str | None, Header(max_length=150)] = None,
) -> SalePublic:
    """A counter sale at the customer's prices (the walk-in customer unless `customer_id`),
    paid in cash (into the caller's open drawer; change = tendered - total) or by card. The
    order is placed paid; the default rules pick, pack, invoice and complete it at once.
    409: cash without an open drawer; 422: unknown SKU, not enough in stock or cash."""
    order, sale = await pos_flows.sell(
        state,
        sale_in=sale_in,
        employee_id=principal.employee_id,
        actor=principal.actor(Source.API),
        request_key=scoped_key("pos-sale", principal.name, idempotency_key)
        if idempotency_key
        else None,
    )
    return await in_session(state, lambda s: sale_public(s, order, sale), read_only=True)


@router.get("/sales/{number}", response_model=SalePublic)
def read_sale(number: str, session: ReadSessionDep, _: Seller) -> SalePublic:
    """A counter sale: its order's status and how it was paid."""
    order, sale = pos_service.counter_order(session=session, order_number=number)
    return sale_public(session, order, sale)


@router.get(
    "/sales/{number}/receipt",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def read_receipt(number: str, session: ReadSessionDep, _: Seller) -> Response:
    """The sale's receipt as a PDF for an 80 mm receipt printer."""
    order, sale = pos_service.counter_order(session=session, order_number=number)
    return Response(
        receipt.render(session=session, order=order, sale=sale),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="receipt-{number}.pdf"'},
    )


@router.post(
    "/sales/{number}/return",
    response_model=CounterReturnPublic,
    responses={202: {"description": "recorded; the refund waits (an accountant's approval)"}},
)
async def counter_return(
    number: str,
    return_in: CounterReturn,
    state: StateDep,
    principal: Refunder,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=150)] = None,
) -> CounterReturnPublic:
    """Goods of a counter sale brought back: the returns service authorises and receives them
    (restocked), the credit note and refund follow, and a cash sale's refund is paid out of the
    caller's open drawer (its expected cash goes down). 409: no open drawer for a cash sale,
    the order not completed; 422: goods not sold on it. 202 while the refund waits for an
    accountant; the same request (Idempotency-Key) after the approval pays it out."""
    try:
        done = await pos_flows.take_back(
            state,
            order_number=number,
            return_in=return_in,
            employee_id=principal.employee_id,
            actor=principal.actor(Source.API),
            idempotency_key=idempotency_key,
        )
    except return_service.ReturnConflictError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except return_service.ReturnError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    if done.status != ReturnStatus.RECEIVED:
        response.status_code = status.HTTP_202_ACCEPTED
    return done
