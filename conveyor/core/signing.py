"""The server's signing secret (session cookies, signed links) and keys derived from it."""

import hashlib
import hmac
import os
import secrets
import time

from conveyor.core.settings import Settings


def server_secret(settings: Settings) -> bytes:
    """CONVEYOR_SESSION_SECRET, else a random key kept in the data folder (made once)."""
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value().encode()
    path = settings.data_dir / "session-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # O_EXCL: of several processes starting at once, one writes and all read it
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(48))
        except FileExistsError:
            pass
    for _ in range(50):
        value = path.read_text().strip()
        if value:
            return value.encode()
        time.sleep(0.01)  # another process is between creating and writing the file
    raise RuntimeError(f"{path} is empty")


def derived_key(settings: Settings, purpose: str) -> bytes:
    """A key for one purpose (e.g. "supplier-link"): a token signed for one use is no good for
    another, and none of them is the cookie key itself."""
    return hmac.new(server_secret(settings), purpose.encode(), hashlib.sha256).digest()
