"""Purchase order endpoints: an order's purchase orders; the supplier's shipment confirmation."""

from fastapi import APIRouter, HTTPException, status

from api.deps import CurrentPrincipal, ReadSessionDep, StateDep
from conveyor.order import service as order_service
from conveyor.purchasing import flows as purchasing_flows
from conveyor.purchasing import service as purchasing_service
from conveyor.purchasing.models import PurchaseOrderPublic, SupplierShipment

router = APIRouter()
# Who may confirm a supplier's shipment (besides admins).
CONFIRMING_ROLES = ("warehouse", "purchasing")


@router.get("", response_model=list[PurchaseOrderPublic])
def list_purchase_orders(
    order: str, session: ReadSessionDep, _: CurrentPrincipal
) -> list[PurchaseOrderPublic]:
    """The purchase orders of an order (`?order=<number>`), oldest first."""
    found = order_service.get_by_number(session=session, number=order)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"order {order} not found")
    return [
        purchasing_service.to_public(session=session, purchase=purchase)
        for purchase in purchasing_service.list_for_order(session=session, order_id=found.id or 0)
    ]


@router.post("/{number}/shipped", response_model=PurchaseOrderPublic)
async def confirm_shipped(
    number: str, shipment: SupplierShipment, state: StateDep, principal: CurrentPrincipal
) -> PurchaseOrderPublic:
    """The supplier shipped the goods to the customer; the order goes on to invoicing."""
    if not any(principal.has_role(role) for role in CONFIRMING_ROLES):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "needs the warehouse or purchasing role")
    try:
        return await purchasing_flows.confirm_shipped(
            state, number=number, tracking=shipment.tracking
        )
    except purchasing_flows.PurchaseOrderNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except purchasing_service.PurchaseOrderError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
