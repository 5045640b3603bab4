"""The supplier's link to a purchase order: `/supplier/purchase-orders/<number>?token=...`,
the token `<expiry>.<HMAC-SHA256 of "<number>.<expiry>">` under a key derived from the server
secret. Nothing is stored: the link is good until it expires, and confirming the purchase order
once is what makes a second use change nothing."""

import hashlib
import hmac
from datetime import datetime
from urllib.parse import quote

from conveyor.core.models import utcnow
from conveyor.core.settings import Settings
from conveyor.core.signing import derived_key

PATH = "/supplier/purchase-orders/{number}"
PURPOSE = "supplier-link"


def _signature(settings: Settings, number: str, expires: int) -> str:
    message = f"{number}.{expires}".encode()
    return hmac.new(derived_key(settings, PURPOSE), message, hashlib.sha256).hexdigest()


def token(settings: Settings, number: str, *, now: datetime | None = None) -> str:
    """A token for purchase order `number`, good for `supplier_link_validity_seconds`."""
    issued = (now or utcnow()).timestamp()
    expires = int(issued + settings.supplier_link_validity_seconds)
    return f"{expires}.{_signature(settings, number, expires)}"


def url(settings: Settings, number: str) -> str:
    """The link the purchase order's mail carries."""
    path = PATH.format(number=quote(number, safe=""))
    return f"{settings.public_url}{path}?token={token(settings, number)}"


def valid(settings: Settings, number: str, given: str, *, now: datetime | None = None) -> bool:
    """True when `given` was signed for `number` and has not expired."""
    expiry, _, signature = given.partition(".")
    if not expiry.isdigit() or len(expiry) > 12:
        return False
    expected = _signature(settings, number, int(expiry))
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return False
    return int(expiry) > (now or utcnow()).timestamp()
