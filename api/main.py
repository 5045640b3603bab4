"""The FastAPI application: lifespan resources, routers, error shapes."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from api.docs import install as install_docs
from api.guard import RequestGuard
from api.health import router as health_router
from api.metrics import ApiMetrics, RequestMetrics
from api.metrics import router as metrics_router
from api.registry import api_router
from conveyor.core.db import RETRY_AFTER_SECONDS, DatabaseBusy, make_engine, outage, read_side
from conveyor.core.errors import DomainError, Invalid, Unavailable
from conveyor.core.intake import make_intake_engine
from conveyor.core.settings import Settings, settings
from conveyor.core.state import AppState
from conveyor.order import flows as order_flows
from conveyor.pages.views import domain_error_page, is_page_request, validation_error_page
from conveyor.pages.views import install as install_pages
from conveyor.shipping.views import carrier_router
from conveyor.webhook import flows as webhook_flows
from conveyor.webhook.views import router as webhook_router
from routing_rules.registry import RuleRegistry

log = logging.getLogger(__name__)
SWEEP_INTERVAL_SECONDS = 10.0
SWEEP_MIN_AGE_SECONDS = 5.0  # younger orders are the starter's, still in flight


async def _sweep_pending_orders(state: AppState) -> None:
    # Orders the starters missed (Temporal unreachable, a process killed between commit and
    # start) get their workflow started here; at startup, all a previous process left pending.
    older_than: float = 0
    while True:
        try:
            started = await order_flows.start_pending_workflows(
                state, older_than_seconds=older_than
            )
            if started:
                log.info("started %d pending order workflows", started)
        except Exception:
            log.warning("pending-order sweep failed", exc_info=True)
        older_than = SWEEP_MIN_AGE_SECONDS
        await asyncio.sleep(SWEEP_INTERVAL_SECONDS)


def create_app(app_settings: Settings = settings) -> FastAPI:
    """Build the app for these settings (tests build one per database)."""
    url = app_settings.effective_database_url
    busy = app_settings.sqlite_busy_timeout_seconds
    engine = make_engine(url, busy_timeout_seconds=busy)
    read_engine = (
        make_engine(url, read_only=True, busy_timeout_seconds=busy)
        if app_settings.is_sqlite
        else read_side(engine)
    )
    state = AppState(
        settings=app_settings,
        engine=engine,
        read_engine=read_engine,
        rules=RuleRegistry(app_settings.rules_dir),
        intake_engine=make_intake_engine(url, busy_timeout_seconds=busy),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        sweeper = asyncio.create_task(_sweep_pending_orders(state))
        purger = asyncio.create_task(webhook_flows.purge_periodically(state))
        yield
        for task in (sweeper, purger):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await state.stop_starter()

    app = FastAPI(
        title="Conveyor",
        version="0.1.0",
        description="Sales-order fulfillment as durable workflows.",
        lifespan=lifespan,
        # The interactive docs (api/docs.py, vendored bundles): development only.
        docs_url=None,
        redoc_url=None,
    )
    if app_settings.is_development:
        install_docs(app)
    app.state.conveyor = state
    app.state.metrics = ApiMetrics()
    app.include_router(health_router)
    app.include_router(metrics_router)
    app.include_router(api_router)
    app.include_router(webhook_router, prefix="/webhooks", tags=["webhooks"])
    app.include_router(carrier_router, prefix="/webhooks", tags=["webhooks"])
    install_pages(app)
    app.add_middleware(RequestGuard, state=state)
    # Outermost: the guard's refusals (401, 413) are counted too.
    app.add_middleware(RequestMetrics, metrics=app.state.metrics)

    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, exc: DomainError) -> Response:
        # One mapping for every area: JSON for the API and webhooks, an error page for people.
        if request.url.path.startswith(("/api/", "/webhooks/")):
            return JSONResponse({"detail": exc.message}, status_code=exc.status)
        return domain_error_page(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        if is_page_request(request):
            return validation_error_page(request, exc)
        # Same shape as FastAPI's default, minus echoing the raw input back.
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    async def _unstorable(request: Request, exc: Exception) -> Response:
        # A value the database cannot hold (an id past 32/64 bits, a NUL byte in text on
        # PostgreSQL) is the request's fault: 422 like any invalid input, not a 500.
        log.warning("unstorable value in %s %s", request.method, request.url.path, exc_info=exc)
        return await _domain_error(request, Invalid("a value is out of range or not storable"))

    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeout)
    @app.exception_handler(DatabaseBusy)
    async def _database_outage(request: Request, exc: Exception) -> Response:
        # The database busy (SQLite locked by another writer past the busy timeout) or
        # unreachable (PostgreSQL down, a connection cut mid-request): the transaction rolled
        # back, so the caller may simply retry. 503 with Retry-After, JSON for the API and an
        # error page for people; never a 500. Any other database error is a bug: re-raised.
        message = outage(exc)
        if message is None:
            raise exc
        log.warning("%s %s: %s", request.method, request.url.path, message, exc_info=exc)
        response = await _domain_error(request, Unavailable(message))
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    _document_domain_422(app)
    return app


def _document_domain_422(app: FastAPI) -> None:
    # A 422 is FastAPI's list of validation errors or an `Invalid` domain error's message
    # (`{"detail": "unknown SKU: X"}`): the OpenAPI document says both, as the app answers.
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            schemas = document.get("components", {}).get("schemas", {})
            properties = schemas.get("HTTPValidationError", {}).get("properties", {})
            if "detail" in properties:
                listed = {k: v for k, v in properties["detail"].items() if k != "title"}
                properties["detail"] = {
                    "title": "Detail",
                    "anyOf": [listed, {"type": "string"}],
                }
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]
