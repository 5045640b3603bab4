"""The sign-in throttle table: failed attempts per key and how long the key must wait."""

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
