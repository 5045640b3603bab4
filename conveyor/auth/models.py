"""Sign-in tables: the throttle (failed attempts per key), browser sessions, set-password links."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from conveyor.core.models import timestamp_field


class LoginThrottle(SQLModel, table=True):
    """Recent failed sign-ins of one account (`customer:<e-mail>`) or address (`address:<ip>`).

    Kept in the database, so every API process sees the same counts and locks.
    """

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=400, unique=True)
    failures: int = 0
    last_failure_at: datetime = timestamp_field()
    # Until then every attempt on this key is refused (429), right password or not.
    locked_until: datetime | None = timestamp_field(nullable=True, default_now=False)


class LoginSession(SQLModel, table=True):
    """One signed-in browser session. The signed cookie carries a random id; only its SHA-256
    is stored. Every page request looks the row up: signing out deletes it, so a copied cookie
    stops working; a password reset or a deactivation deletes all of that person's rows."""

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(max_length=64, unique=True)
    kind: str = Field(max_length=16)  # employee | admin | customer
    subject_id: int | None = Field(default=None, index=True)  # None for the admin token
    created_at: datetime = timestamp_field()
    expires_at: datetime = timestamp_field()


class SetPasswordLink(SQLModel, table=True):
    """A one-time link that lets a customer or an employee choose their password (exactly one
    of `customer_id`, `employee_id` is set).

    Staff send it instead of setting a password themselves ("forgot password" sends one too);
    only the token's SHA-256 is stored. It works once (`used_at`), until `expires_at`; a newer
    link for the same person supersedes it.
    """

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    employee_id: int | None = Field(default=None, foreign_key="employee.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    sent_by: str = Field(max_length=320)
    created_at: datetime = timestamp_field()
    expires_at: datetime = timestamp_field()
    used_at: datetime | None = timestamp_field(nullable=True, default_now=False)
