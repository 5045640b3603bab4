"""The API's Prometheus metrics: requests, latency and errors per route template, at /metrics.

Labels are the route's template (`/api/orders/{number}`), never the raw path, so their number
is bounded by the routes; a path that matches none counts as `unmatched`. `/metrics` needs a
bearer token with `monitor.view` (the admin token or a supervisor's): Prometheus sends it with
`authorization: {credentials_file: ...}`.
"""

import re
import time
from typing import Annotated

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from starlette.routing import Mount, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import Principal, require
from conveyor.auth.permissions import Permission
from conveyor.core.logs import current_request

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds; the pages and most API calls answer in milliseconds, reports and PDFs in seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

router = APIRouter()


class ApiMetrics:
    """The API's counters and histogram, in a registry of the app's own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ("method", "route")
        self.requests = Counter(
            "conveyor_http_requests",
            "HTTP requests answered, by route template and status",
            (*labels, "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "conveyor_http_request_duration_seconds",
            "time to answer, by route template",
            labels,
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "conveyor_http_errors",
            "requests answered 5xx or not at all (an exception), by route template",
            labels,
            registry=self.registry,
        )


class RequestMetrics:
    """Pure ASGI middleware: measures every HTTP request and names it in the logs."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self.templates = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"] if scope["method"] in METHODS else "OTHER"
        status = 500  # no answer: the exception's

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        token = current_request.set((scope["method"], scope["path"]))
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            elapsed = time.perf_counter() - started
            current_request.reset(token)
            route = self.templates.of(scope)
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(elapsed)
            if status >= 500:
                self.metrics.errors.labels(method, route).inc()


class RouteTemplates:
    """The app's path templates, matched against a request's path (first match, as routed)."""

    def __init__(self) -> None:
        self._compiled: list[tuple[re.Pattern[str], str]] | None = None

    def of(self, scope: Scope) -> str:
        """The template of the route this request's path names, or `unmatched`."""
        if self._compiled is None:
            self._compiled = [(compile_path(t)[0], t) for t in _templates(scope["app"])]
        path = scope["path"]
        for pattern, template in self._compiled:
            if pattern.match(path):
                return template
        return "unmatched"


def _templates(app: FastAPI) -> list[str]:
    found: list[str] = []
    for route in app.routes:
        # An included router's routes under their full paths (as tests/utils/routes.py walks).
        contexts = getattr(route, "effective_route_contexts", None)
        paths = [c.path for c in contexts()] if contexts else [getattr(route, "path", "")]
        for path in paths:
            if isinstance(route, Mount) and not path.endswith("{path:path}"):
                path = path.rstrip("/") + "/{path:path}"
            if path and path not in found:
                found.append(path)
    return found


@router.get(
    "/metrics",
    tags=["health"],
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def metrics(
    request: Request, _: Annotated[Principal, require(Permission.MONITOR_VIEW)]
) -> Response:
    """The API's metrics in Prometheus' text format."""
    api_metrics: ApiMetrics = request.app.state.metrics
    return Response(generate_latest(api_metrics.registry), media_type=CONTENT_TYPE_LATEST)
