"""The request guard: body size limits, authentication before parsing, security headers."""

import asyncio

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import CHALLENGE, PRINCIPAL_KEY, authenticate_header
from conveyor.core.db import RETRY_AFTER_SECONDS, outage
from conveyor.core.state import AppState

# Keys are stored prefixed (`payment:<key>`, `receipt:<key>`) in 200-character columns.
MAX_IDEMPOTENCY_KEY = 150
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")

# The pages load only their own /static files (htmx, Chart.js, conveyor.js and .css): no inline
# script or style, no eval, no other origin, never framed.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# The /docs and /redoc pages (api/docs.py): the vendored Swagger UI / ReDoc bundles, started by
# an inline script (ReDoc also styles inline and runs a blob worker). Nothing from another origin.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
# JSON, CSV: nothing to load, nothing to run. PDFs only refuse framing (a stricter policy on the
# PDF itself can keep a browser's viewer from showing it).
DATA_CSP = "default-src 'none'; frame-ancestors 'none'"
PDF_CSP = "frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"


class RequestGuard:
    """Pure ASGI middleware in front of every route (HTTP only). In this order it refuses:

    - an `Idempotency-Key` over MAX_IDEMPOTENCY_KEY characters: 422;
    - a `Content-Length` over the limit (`max_webhook_body_bytes` for /webhooks/, else
      `max_body_bytes`): 413, nothing read;
    - an /api/ request without a known bearer token: 401, before its body is read or parsed
      (/healthz, /webhooks/ (signed), the pages (session cookie) stay open; /openapi.json
      needs a token outside development, where /docs and /redoc are not served at all);
    - a body that grows past the limit while it streams in (chunked): 413, the route never runs.

    Every response gets the security headers (CSP, nosniff, framing, referrer, HSTS outside
    development).
    """

    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        send = self._with_security_headers(path, send)
        headers = Headers(scope=scope)
        settings = self.state.settings
        webhook = path.startswith("/webhooks/")
        limit = settings.max_webhook_body_bytes if webhook else settings.max_body_bytes

        key = headers.get("idempotency-key")
        if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
            await _idempotency_key_too_long(scope, receive, send)
            return
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                await _refuse(scope, receive, send, 400, "invalid Content-Length")
                return
            if int(length) > limit:
                await _too_large(scope, receive, send, limit)
                return
        # Outside development the API description is for authenticated callers only.
        if (
            path == "/api"
            or path.startswith("/api/")
            or (path == "/openapi.json" and not settings.is_development)
        ):
            try:
                found = await asyncio.to_thread(
                    authenticate_header, self.state, headers.get("authorization")
                )
            except Exception as exc:
                # Out here the app's handlers do not answer: a database outage while looking
                # the token up is the 503 they would give, not a 500.
                message = outage(exc)
                if message is None:
                    raise
                retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
                await _refuse(scope, receive, send, 503, message, retry)
                return
            if isinstance(found, str):
                await _refuse(scope, receive, send, 401, found, CHALLENGE)
                return
            scope.setdefault("state", {})[PRINCIPAL_KEY] = found
        body = await _read_body(receive, limit)
        if body is None:
            await _too_large(scope, receive, send, limit)
            return
        await self.app(scope, _replay(body, receive), send)

    def _with_security_headers(self, path: str, send: Send) -> Send:
        hsts = not self.state.settings.is_development

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", []))
                headers = MutableHeaders(scope=message)
                content_type = headers.get("content-type", "")
                headers.setdefault("content-security-policy", _csp(path, content_type))
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("x-frame-options", "DENY")
                headers.setdefault("referrer-policy", "same-origin")
                headers.setdefault("cross-origin-opener-policy", "same-origin")
                if hsts:
                    headers.setdefault("strict-transport-security", HSTS)
            await send(message)

        return send_with_headers


def _csp(path: str, content_type: str) -> str:
    if content_type.startswith("text/html"):
        return DOCS_CSP if path in DOCS_PATHS else PAGE_CSP
    if content_type.startswith("application/pdf"):
        return PDF_CSP
    return DATA_CSP


async def _read_body(receive: Receive, limit: int) -> list[Message] | None:
    """The request's messages, the body joined into one; None once it passes `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: pass that on
            return [_body_message(chunks), message]
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return [_body_message(chunks)]


def _body_message(chunks: list[bytes]) -> Message:
    return {"type": "http.request", "body": b"".join(chunks), "more_body": False}


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` that hands out the buffered messages, then waits on the real one."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def _refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    detail: object,
    headers: dict[str, str] | None = None,
) -> None:
    await JSONResponse({"detail": detail}, status_code=status, headers=headers)(
        scope, receive, send
    )


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    # The rest of the body stays unread, so the connection cannot carry another request.
    detail = f"request body too large (limit {limit} bytes)"
    await _refuse(scope, receive, send, 413, detail, {"Connection": "close"})


async def _idempotency_key_too_long(scope: Scope, receive: Receive, send: Send) -> None:
    # The shape of FastAPI's validation errors (api/main.py), as a declared header limit gives.
    detail = [
        {
            "loc": ["header", "idempotency-key"],
            "msg": f"String should have at most {MAX_IDEMPOTENCY_KEY} characters",
            "type": "string_too_long",
        }
    ]
    await _refuse(scope, receive, send, 422, detail)
