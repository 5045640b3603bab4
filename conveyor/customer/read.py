"""Customers as the staff lists read them: the filtered query, its sort columns, and the
customer filter that the order, invoice and return lists share."""

from typing import Any

from sqlalchemy import ColumnElement, or_
from sqlmodel import Session, col, select

from conveyor.core.db import contains_text
from conveyor.customer.models import Customer
from conveyor.employee.models import Employee

SORTS: dict[str, Any] = {
    "name": col(Customer.name),
    "email": col(Customer.email),
    "group": col(Customer.group),
    "country": col(Customer.country),
    "credit_limit": col(Customer.credit_limit),
    "created": col(Customer.created_at),
}


def matches(text: str) -> ColumnElement[bool]:
    """The customer filter: its number when `text` is one, else a part of its name or e-mail."""
    if text.isdigit():
        return col(Customer.id) == int(text)
    return or_(contains_text(col(Customer.name), text), contains_text(col(Customer.email), text))


def search(
    *,
    name: str | None = None,
    email: str | None = None,
    group: str | None = None,
    account_rep_id: int | None = None,
) -> Any:
    """Customers with their account rep (or None); `account_rep_id`: only the ones that rep
    owns (the sales record rule)."""
    query = select(Customer, Employee).outerjoin(
        Employee, col(Employee.id) == col(Customer.account_rep_id)
    )
    if account_rep_id is not None:
        query = query.where(col(Customer.account_rep_id) == account_rep_id)
    if name:
        query = query.where(contains_text(col(Customer.name), name))
    if email:
        query = query.where(contains_text(col(Customer.email), email))
    if group:
        query = query.where(col(Customer.group) == group)
    return query


def groups(session: Session) -> list[str]:
    """The customer groups in use, alphabetically (the group filter's choices)."""
    found = session.exec(select(Customer.group).distinct().order_by(col(Customer.group)))
    return list(found.all())
