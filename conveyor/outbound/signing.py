'''Signing outbound webhooks the way Stripe does: HMAC-SHA256 over "<timestamp>.<body>".

Every delivery is a POST with a JSON body and these headers:

- `Conveyor-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>`
- `Conveyor-Event-Id: evt_...` (the same on every retry and replay: deduplicate on it)
- `Conveyor-Event-Type: order.created` (or order.shipped, order.delivered, order.cancelled,
  invoice.issued, payment.received)

The receiving side checks the signature over the raw body before parsing it, and refuses a
timestamp too far from its own clock (a replayed capture). In Python, with the standard library
only (the example between the markers is run by tests/outbound):

# --- verify example ---
import hashlib, hmac, time


def verify(secret: str, body: bytes, header: str, tolerance: int = 300) -> bool:
    """True if `header` (Conveyor-Signature) signs the raw `body` with `secret`, recently."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    timestamp, signature = fields.get("t", ""), fields.get("v1", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    signed = timestamp.encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)
# --- end of example ---

Answer 2xx once the event is stored; anything else (or no answer within the timeout) is retried
with exponential backoff for `CONVEYOR_OUTBOUND_RETRY_HOURS` (72 by default).
'''

import hashlib
import hmac

SIGNATURE_HEADER = "Conveyor-Signature"
EVENT_ID_HEADER = "Conveyor-Event-Id"
EVENT_TYPE_HEADER = "Conveyor-Event-Type"


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The `Conveyor-Signature` header value of `body` signed at `timestamp` (unix seconds)."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_example_source() -> str:
    """The receiving side's example code, as documented above (for the README and the tests)."""
    doc = __doc__ or ""
    start = doc.index("# --- verify example ---")
    end = doc.index("# --- end of example ---")
    return doc[start:end].split("\n", 1)[1]
