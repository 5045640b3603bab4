"""Unanswered customer messages: orders whose support history ends with the customer."""

from typing import Annotated

from fastapi import Request
from fastapi.responses import Response

from api.deps import Principal, ReadSessionDep
from conveyor.auth.permissions import Permission
from conveyor.customer.models import Customer
from conveyor.order.models import SalesOrder
from conveyor.pages.web import page_router, render, require_page
from conveyor.support import service as support_service

router = page_router()


@router.get("/messages", include_in_schema=False)
def unanswered_messages(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.CUSTOMERS_MESSAGE)],
) -> Response:
    """The customers waiting for an answer, longest waiting first."""
    rows = []
    for message in support_service.unanswered(session=session):
        order = session.get(SalesOrder, message.order_id)
        customer = session.get(Customer, order.customer_id) if order else None
        rows.append((message, order, customer))
    return render(request, "messages.html", {"rows": rows, "page": "messages"}, principal=principal)
