"""The app's routes as plain rows (method, path, endpoint, declared permission), for tests that
walk every route."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from api.deps import Needs
from conveyor.auth.permissions import Permission
from conveyor.pages.web import PageNeeds


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    endpoint: Any
    permission: Permission | None  # what it declares (api.deps.require / pages.web.require_page)
    page: bool  # a page (session cookie) rather than JSON (bearer token)


def _api_routes(app: FastAPI) -> Iterator[APIRoute]:
    for route in app.routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "effective_route_contexts"):  # FastAPI's included routers
            for context in route.effective_route_contexts():
                original = context.original_route
                if isinstance(original, APIRoute):
                    # The included route under its full path.
                    yield _Prefixed(original, context.path)  # type: ignore[misc]


class _Prefixed:
    def __init__(self, route: APIRoute, path: str) -> None:
        self.route, self.path = route, path
        self.methods, self.endpoint, self.dependant = route.methods, route.endpoint, route.dependant
        self.include_in_schema = route.include_in_schema


def _declared(dependant: Any) -> list[Permission]:
    found = []
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, Needs | PageNeeds):
            found.append(dependency.call.permission)
        found += _declared(dependency)
    return found


def routes(app: FastAPI) -> list[Route]:
    """Every route the app serves (docs and static files aside)."""
    rows = []
    for route in _api_routes(app):
        if route.path in ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"):
            continue
        declared = sorted(set(_declared(route.dependant)))
        assert len(declared) <= 1, f"{route.path} declares {declared}"
        for method in sorted(route.methods - {"HEAD"}):
            rows.append(
                Route(
                    method=method,
                    path=route.path,
                    endpoint=route.endpoint,
                    permission=declared[0] if declared else None,
                    page=not route.path.startswith(("/api/", "/webhooks/", "/healthz", "/metrics")),
                )
            )
    return rows
