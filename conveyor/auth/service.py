"""Sign-in throttling: count failures per key, lock with exponential backoff, forget with time."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from conveyor.auth.models import LoginThrottle

# 2**40 seconds is far beyond any cap; the bound only keeps the float arithmetic finite.
_MAX_DOUBLINGS = 40


@dataclass(frozen=True)
class Backoff:
    """How long a key waits once over its threshold: `base` doubling per failure, up to `max`;
    failures older than `window` (since the key's last failure) are forgotten."""

    base_seconds: float
    max_seconds: float
    window_seconds: float

    def wait_after(self, failures: int, threshold: int) -> float:
        """The lock after the `failures`-th failure in a row (0 below the threshold)."""
        if failures < threshold:
            return 0.0
        doublings = min(failures - threshold, _MAX_DOUBLINGS)
        return min(self.base_seconds * 2**doublings, self.max_seconds)


def account_key(kind: str, name: str) -> str:
    """The throttle key of an account (e-mails compare case-insensitively)."""
    return f"{kind}:{name.strip().lower()}"


def address_key(address: str | None) -> str:
    """The throttle key of a client address."""
    return f"address:{address or 'unknown'}"


def wait_seconds(*, session: Session, keys: Sequence[str], now: datetime) -> float:
    """How long the longest-locked of `keys` must still wait (0: an attempt may go ahead)."""
    locks = session.exec(
        select(LoginThrottle.locked_until)
        .where(col(LoginThrottle.key).in_(keys))
        .where(col(LoginThrottle.locked_until).is_not(None))
    ).all()
    latest = max((lock for lock in locks if lock is not None), default=None)
    return max(0.0, (latest - now).total_seconds()) if latest is not None else 0.0


def _locked_row(session: Session, key: str, now: datetime) -> LoginThrottle:
    # Row lock on PostgreSQL (SQLite's BEGIN IMMEDIATE already serialises writers); two
    # processes creating the same key's row meet at the unique constraint and the loser reads.
    query = select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
    row = session.exec(query).first()
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = LoginThrottle(key=key, failures=0, last_failure_at=now)
            session.add(row)
    except IntegrityError:
        row = session.exec(query).one()
    return row


def record_failure(
    *, session: Session, thresholds: Mapping[str, int], backoff: Backoff, now: datetime
) -> float:
    """Count one failed attempt on each key (key → its threshold); the longest lock imposed."""
    forget_before = now - timedelta(seconds=backoff.window_seconds)
    longest = 0.0
    for key, threshold in sorted(thresholds.items()):  # one lock order for every caller
        row = _locked_row(session, key, now)
        if row.last_failure_at < forget_before:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        wait = backoff.wait_after(row.failures, threshold)
        if wait:
            row.locked_until = now + timedelta(seconds=wait)
            longest = max(longest, wait)
        session.add(row)
    # Forgotten keys go: the table holds only the addresses and accounts seen lately.
    session.execute(
        delete(LoginThrottle)
        .where(col(LoginThrottle.last_failure_at) < forget_before)
        .where(
            or_(
                col(LoginThrottle.locked_until).is_(None),
                col(LoginThrottle.locked_until) < now,
            )
        )
    )
    session.flush()
    return longest


def clear(*, session: Session, keys: Sequence[str]) -> None:
    """Forget the failures of `keys` (after a successful sign-in to that account)."""
    session.execute(delete(LoginThrottle).where(col(LoginThrottle.key).in_(keys)))
    session.flush()


def retry_after_header(seconds: float) -> str:
    """The `Retry-After` value for a wait: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
