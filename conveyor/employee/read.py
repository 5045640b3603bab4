"""Employees as the people list reads them: the filtered query and its sort columns."""

import json
from typing import Any

from sqlalchemy import String, cast, func, or_
from sqlmodel import col, select

from conveyor.core.db import contains_text
from conveyor.employee.models import Employee

SORTS: dict[str, Any] = {
    "name": func.lower(col(Employee.name)),
    "email": col(Employee.email),
    "clearance": col(Employee.clearance),
    "created": col(Employee.created_at),
}


def search(*, text: str | None = None, role: str | None = None, active: bool | None = None) -> Any:
    """Employees whose name or e-mail contains `text`, holding `role` (exactly, not through
    admin) and active or not, as given."""
    query = select(Employee)
    if text:
        query = query.where(
            or_(contains_text(col(Employee.name), text), contains_text(col(Employee.email), text))
        )
    if role:
        # Roles are a JSON list: the role as a quoted JSON string matches one whole role only.
        query = query.where(contains_text(cast(col(Employee.roles), String), json.dumps(role)))
    if active is not None:
        query = query.where(col(Employee.active).is_(active))
    return query
