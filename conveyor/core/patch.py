"""Partial updates checked like creates: a row's fields plus a patch, validated as a new record."""

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from conveyor.core.errors import Invalid

M = TypeVar("M", bound=BaseModel)


def field_errors(exc: ValidationError) -> dict[str, str]:
    """The first message per field; "" holds what concerns the record as a whole."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        loc = error.get("loc", ())
        name = str(loc[0]) if loc else ""
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        errors.setdefault(name, message)
    return errors


def describe(exc: ValidationError) -> str:
    """All of a validation error in one line: `field: message; other: message`."""
    return "; ".join(f"{k}: {v}" if k else v for k, v in field_errors(exc).items())


def merged(model: type[M], current: Mapping[str, Any], changes: Mapping[str, Any]) -> M:
    """`current` with `changes` applied, validated as `model` (the create shape); Invalid if not."""
    fields = {k: v for k, v in current.items() if k in model.model_fields}
    try:
        return model.model_validate(fields | dict(changes))
    except ValidationError as exc:
        raise Invalid(describe(exc)) from exc
