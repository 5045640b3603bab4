"""Return endpoints: authorise a return of an order, receive it, list and read returns."""

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from sqlmodel import Session

from api.deps import (
    Principal,
    ReadSessionDep,
    SessionDep,
    StateDep,
    require,
)
from conveyor.audit.models import Source
from conveyor.auth.permissions import GRANTS, Permission
from conveyor.core.idempotency import scoped_key
from conveyor.core.state import in_session
from conveyor.invoice.models import CreditNote, Invoice
from conveyor.order import service as order_service
from conveyor.returns import flows as return_flows
from conveyor.returns import service as return_service
from conveyor.returns.models import (
    ReturnAuthorisation,
    ReturnCreate,
    ReturnCreditNote,
    ReturnLinePublic,
    ReturnPublic,
    ReturnReceive,
    ReturnsPublic,
)

order_returns_router = APIRouter()  # mounted under /orders
router = APIRouter()  # mounted under /returns

# Separation of duties (conveyor/auth/permissions.py): the order desk or sales authorise a
# return, the warehouse receives it, an accountant approves a credit above the approval amount.
AUTHORISING_ROLES = tuple(sorted(GRANTS[Permission.RETURNS_AUTHORISE].roles))
RECEIVING_ROLE = "warehouse"

RETURN_FIELDS = [
    name
    for name in ReturnPublic.model_fields
    if name not in ("lines", "credit_notes", "approval_task_id")
]


def return_public(session: Session, rma: ReturnAuthorisation) -> ReturnPublic:
    """The return with its lines and credit notes."""
    notes = return_service.credit_notes(session=session, rma=rma)
    return ReturnPublic(
        **{name: getattr(rma, name) for name in RETURN_FIELDS},
        lines=[
            ReturnLinePublic.model_validate(line)
            for line in return_service.lines(session=session, return_id=rma.id or 0)
        ],
        credit_notes=[_credit_note(session, note) for note in notes],
        approval_task_id=task.id
        if (task := return_service.approval_task(session=session, rma=rma))
        else None,
    )


def _credit_note(session: Session, note: CreditNote) -> ReturnCreditNote:
    invoice = session.get(Invoice, note.invoice_id)
    return ReturnCreditNote(
        number=note.number,
        invoice_number=invoice.number if invoice else "",
        subtotal=note.subtotal,
        tax=note.tax,
        total=note.total,
        issued_at=note.issued_at,
    )


def _load(session: Session, number: str) -> ReturnAuthorisation:
    rma = return_service.get_by_number(session=session, number=number)
    if rma is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"return {number} not found")
    return rma


@order_returns_router.post(
    "/{number}/returns", status_code=status.HTTP_201_CREATED, response_model=ReturnPublic
)
def create_return(
    number: str,
    return_in: ReturnCreate,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.RETURNS_AUTHORISE)],
    idempotency_key: Annotated[str | None, Header(max_length=150)] = None,
) -> ReturnPublic:
    """Authorise the return of goods shipped on the order (RMA). 409: nothing shipped or the
    order is not completed; 422: goods not shipped or already returned.
    """
    order = order_service.get_by_number(session=session, number=number)
    if order is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"order {number} not found")
    try:
        rma = return_service.create(
            session=session,
            key=scoped_key("return", number, idempotency_key),
            order=order,
            return_in=return_in,
            actor=principal.actor(Source.API),
        )
    except return_service.ReturnConflictError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except return_service.ReturnError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return return_public(session, rma)


@router.get("", response_model=ReturnsPublic)
def list_returns(
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.RETURNS_VIEW)],
    order: Annotated[str | None, Query(max_length=32)] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ReturnsPublic:
    """Returns, newest first; `?order=<number>` for one order's."""
    rows, count = return_service.list_returns(
        session=session, order_number=order, limit=page_size, offset=(page - 1) * page_size
    )
    return ReturnsPublic(data=[return_public(session, rma) for rma in rows], count=count)


@router.get("/{number}", response_model=ReturnPublic)
def read_return(
    number: str, session: ReadSessionDep, _: Annotated[Principal, require(Permission.RETURNS_VIEW)]
) -> ReturnPublic:
    """One return with its lines, credit notes and refund."""
    return return_public(session, _load(session, number))


@router.post(
    "/{number}/receive",
    response_model=ReturnPublic,
    responses={202: {"description": "recorded; restock, credit note and refund still running"}},
)
async def receive_return(
    number: str,
    receipt: ReturnReceive,
    state: StateDep,
    principal: Annotated[Principal, require(Permission.RETURNS_RECEIVE)],
    response: Response,
) -> ReturnPublic:
    """Goods came back: restock or scrap them, issue the credit note, refund if paid, mail the
    customer. Receiving again with the same lines changes nothing; other lines answer 409.
    The flow's refusals (404 unknown return, 409 failed for good, 503 Temporal unreachable)
    are domain errors, answered by the app's handler.
    """
    try:
        done = await return_flows.receive(
            state, number=number, received=receipt.lines, actor=principal.actor(Source.API)
        )
    except return_service.ReturnConflictError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except return_service.ReturnError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    if not done:
        response.status_code = status.HTTP_202_ACCEPTED
    return await in_session(
        state, lambda session: return_public(session, _load(session, number)), read_only=True
    )
