"""Domain errors: how services and flows refuse, without knowing about HTTP.

Views answer them as `{"detail": message}` with `status`; pages show them as an error page or a
flash message (both through the one handler in `api/main.py` unless a page catches them).
"""


class DomainError(Exception):
    """A business rule refused the request; `status` is the HTTP status it answers with."""

    status: int = 409

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The record does not exist (or the caller may not know that it does)."""

    status = 404


class Forbidden(DomainError):
    """The caller lacks the role, clearance or ownership the action needs."""

    status = 403


class Conflict(DomainError):
    """The record's state does not allow this now (already done, too late, taken)."""

    status = 409


class Invalid(DomainError):
    """The request itself is wrong (unknown SKU, bad quantity, ...)."""

    status = 422


class Unavailable(DomainError):
    """A service the action needs (Temporal, the database) cannot be reached right now."""

    status = 503
