"""Retry waits that double after each failed attempt, up to a maximum (mail, webhooks, stores)."""

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Backoff:
    """How long a message waits after its n-th failed attempt: doubling, up to a maximum."""

    initial_seconds: float
    maximum_seconds: float

    def delay(self, attempts: int) -> timedelta:
        """The wait after `attempts` failed attempts (1 → initial)."""
        exponent = min(max(attempts - 1, 0), 32)
        return timedelta(seconds=min(self.initial_seconds * 2**exponent, self.maximum_seconds))
