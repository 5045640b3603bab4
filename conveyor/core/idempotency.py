"""Idempotency keys scoped to a route and the entity they act on."""

import hashlib
from uuid import uuid4

KEY_COLUMN_LENGTH = 200  # the `key` columns that make a retried request count once


def scoped_key(kind: str, scope: str, client_key: str | None) -> str:
    """`<kind>:<scope>:<client key>`: the same client key sent for another entity (or to another
    route) is another request. No key: a fresh one (the request counts once by itself). A key
    that would not fit the column is replaced by its SHA-256, which is as unique."""
    if not client_key:
        return f"{kind}:{scope}:{uuid4()}"
    key = f"{kind}:{scope}:{client_key}"
    if len(key) <= KEY_COLUMN_LENGTH:
        return key
    return f"{kind}:{scope}:{hashlib.sha256(client_key.encode()).hexdigest()}"
