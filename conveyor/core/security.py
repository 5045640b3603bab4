"""Secrets: bearer tokens (generation, hashing, comparison) and password hashing."""

import hashlib
import hmac
import secrets


def new_token() -> str:
    """A fresh random bearer token."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The stored form of a token (tokens are random, so a plain SHA-256 suffices)."""
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_equal(given: str, expected: str) -> bool:
    """Compare two secrets in constant time."""
    return hmac.compare_digest(given.encode(), expected.encode())


# ---- passwords ------------------------------------------------------------------------------

# PBKDF2-HMAC-SHA256 at OWASP's recommended cost. Each stored hash carries its own cost
# (`pbkdf2$<iterations>$<salt>$<hex>`), so raising this constant makes sign-ins rehash old ones.
PASSWORD_ITERATIONS = 600_000
# Costs outside this range are refused: a stored hash must not make one sign-in burn minutes.
_MIN_ITERATIONS, _MAX_ITERATIONS = 1_000, 10_000_000
_SCHEME = "pbkdf2"


def _pbkdf2(password: str, salt: str, iterations: int) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations).hex()


def hash_password(password: str, *, iterations: int = PASSWORD_ITERATIONS) -> str:
    """The stored form of a password: scheme, cost, a random salt and the digest."""
    if not _MIN_ITERATIONS <= iterations <= _MAX_ITERATIONS:
        raise ValueError(f"PBKDF2 iterations must be {_MIN_ITERATIONS}..{_MAX_ITERATIONS}")
    salt = secrets.token_hex(16)
    return f"{_SCHEME}${iterations}${salt}${_pbkdf2(password, salt, iterations)}"


def _parse(stored: str) -> tuple[int, str, str] | None:
    scheme, _, rest = stored.partition("$")
    cost, _, rest = rest.partition("$")
    salt, _, digest = rest.partition("$")
    if scheme != _SCHEME or not cost.isdigit() or not salt or not digest:
        return None
    iterations = int(cost)
    if not _MIN_ITERATIONS <= iterations <= _MAX_ITERATIONS:
        return None
    return iterations, salt, digest


def verify_password(password: str, stored: str | None) -> bool:
    """True when `password` matches the stored hash, at the cost the hash records.

    Without a usable hash it still spends one default-cost hash, so a caller cannot tell an
    unknown account from a wrong password by the time the answer takes.
    """
    parsed = _parse(stored) if stored else None
    if parsed is None:
        _pbkdf2(password, "no-account", PASSWORD_ITERATIONS)
        return False
    iterations, salt, digest = parsed
    return hmac.compare_digest(_pbkdf2(password, salt, iterations), digest)


def password_needs_rehash(stored: str) -> bool:
    """True when the stored hash is cheaper (or of another form) than new hashes are."""
    parsed = _parse(stored)
    return parsed is None or parsed[0] < PASSWORD_ITERATIONS
