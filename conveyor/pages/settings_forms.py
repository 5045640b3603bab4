"""What the settings pages share: form fields read and bounded, errors by field (their lists
page with listing.Pager)."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from pydantic import ValidationError

from conveyor.core.errors import DomainError
from conveyor.core.patch import field_errors
from conveyor.pages.numbers import plain_number


@dataclass(frozen=True)
class FormField:
    """One input of a settings form: how it is shown and how its text becomes a value.

    `kind`: text, number, date, select, checkbox or textarea. `nullable`: an empty input means
    "none" (None); otherwise the empty text is kept (and validation says what is wrong).
    """

    name: str
    label: str
    kind: str = "text"
    max_length: int = 200
    nullable: bool = False
    options: tuple[tuple[str, str], ...] = ()
    hint: str = ""
    create_only: bool = False  # shown on the new-record form, read-only afterwards


class FormTooLong(ValueError):
    """A form value longer than its field allows (never passed on to validation)."""


class FieldRefused(ValueError):
    """A save refused because of one field's value (a code already taken): shown by that field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


async def read_form(request: Request, fields: Sequence[FormField]) -> dict[str, str]:
    """The form's text for `fields` only, each bounded by its field's `max_length`."""
    form = await request.form()
    values: dict[str, str] = {}
    for spec in fields:
        raw = form.get(spec.name)
        text = raw.strip() if isinstance(raw, str) else ""
        if len(text) > spec.max_length:
            raise FormTooLong(f"{spec.label}: at most {spec.max_length} characters")
        values[spec.name] = text
    return values


def to_input(
    fields: Sequence[FormField], values: dict[str, str], *, drop_empty: bool = False
) -> dict[str, Any]:
    """The form's text as model input: checkboxes as booleans, empty nullable fields as None
    (or left out with `drop_empty`, so a new record takes the model's defaults)."""
    data: dict[str, Any] = {}
    for spec in fields:
        text = values.get(spec.name, "")
        if spec.kind == "checkbox":
            data[spec.name] = text in ("on", "true", "1")
        elif spec.kind == "number" and text:
            data[spec.name] = plain_number(text)
        elif text == "" and (drop_empty or spec.nullable):
            if not drop_empty:
                data[spec.name] = None
        else:
            data[spec.name] = text
    return data


def form_values(row: Any, fields: Sequence[FormField]) -> dict[str, str]:
    """A record's fields as the form shows them."""
    values = {}
    for spec in fields:
        value = getattr(row, spec.name, None)
        if spec.kind == "checkbox":
            values[spec.name] = "on" if value else ""
        else:
            values[spec.name] = "" if value is None else str(value)
    return values


def errors_of(exc: ValidationError | ValueError | DomainError) -> dict[str, str]:
    """Messages by field ("" for the form as a whole: a too-long value, a refused change)."""
    if isinstance(exc, ValidationError):
        return field_errors(exc)
    if isinstance(exc, FieldRefused):
        return {exc.field: str(exc)}
    if isinstance(exc, DomainError):
        return {"": exc.message}
    return {"": str(exc)}


def status_of(exc: ValidationError | ValueError | DomainError) -> int:
    """The status a refused form answers with: 422 for bad input, else the refusal's own."""
    return exc.status if isinstance(exc, DomainError) else 422
