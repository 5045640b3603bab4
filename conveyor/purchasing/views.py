"""Purchase order endpoints: an order's purchase orders; the supplier's shipment confirmation."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, status

from api.deps import Principal, ReadSessionDep, StateDep, require
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.order import read as order_read
from conveyor.purchasing import flows as purchasing_flows
from conveyor.purchasing import service as purchasing_service
from conveyor.purchasing.models import PurchaseOrderPublic, SupplierShipment

router = APIRouter()


@router.get("", response_model=list[PurchaseOrderPublic])
def list_purchase_orders(
    order: str,
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.PURCHASING_VIEW)],
) -> list[PurchaseOrderPublic]:
    """The purchase orders of an order (`?order=<number>`), oldest first."""
    found = order_read.load(session, order)
    return [
        purchasing_service.to_public(session=session, purchase=purchase)
        for purchase in purchasing_service.list_for_order(session=session, order_id=found.id or 0)
    ]


@router.post("/{number}/shipped", response_model=PurchaseOrderPublic)
async def confirm_shipped(
    number: str,
    shipment: SupplierShipment,
    state: StateDep,
    principal: Annotated[Principal, require(Permission.PURCHASING_CONFIRM)],
) -> PurchaseOrderPublic:
    """The supplier shipped the goods to the customer; the order goes on to invoicing.

    404: no such purchase order (answered by the domain error handler); 409: it is cancelled.
    """
    try:
        return await purchasing_flows.confirm_shipped(
            state, number=number, shipment=shipment, actor=principal.actor(Source.API)
        )
    except purchasing_service.PurchaseOrderError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
