"""Returns as the staff list reads them: the filtered query (with the order's customer) and its
sort columns."""

from typing import Any

from sqlmodel import col, select

from conveyor.core.db import contains_text
from conveyor.customer import read as customer_read
from conveyor.customer.models import Customer
from conveyor.order.models import SalesOrder
from conveyor.returns.models import ReturnAuthorisation

SORTS: dict[str, Any] = {
    "number": col(ReturnAuthorisation.id),
    "order": col(ReturnAuthorisation.order_number),
    "customer": col(Customer.name),
    "status": col(ReturnAuthorisation.status),
    "credit": col(ReturnAuthorisation.credit_total),
    "created": col(ReturnAuthorisation.created_at),
}


def search(
    *,
    status: str | None = None,
    order: str | None = None,
    customer: str | None = None,
    account_rep_id: int | None = None,
) -> Any:
    """(return, customer) rows; `account_rep_id`: only returns on that rep's customers' orders."""
    query = (
        select(ReturnAuthorisation, Customer)
        .join(SalesOrder, col(SalesOrder.id) == col(ReturnAuthorisation.order_id))
        .join(Customer, col(Customer.id) == col(SalesOrder.customer_id))
    )
    if account_rep_id is not None:
        query = query.where(col(Customer.account_rep_id) == account_rep_id)
    if status:
        query = query.where(col(ReturnAuthorisation.status) == status)
    if order:
        query = query.where(contains_text(col(ReturnAuthorisation.order_number), order))
    if customer:
        query = query.where(customer_read.matches(customer))
    return query
