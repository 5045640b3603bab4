"""`GET /healthz`: 200 when the API, the database and Temporal are reachable."""

import asyncio
import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import StateDep

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/healthz", tags=["health"])
async def healthz(state: StateDep) -> JSONResponse:
    """Check the database and Temporal; 503 names what is down."""
    checks: dict[str, str] = {}
    try:
        await asyncio.to_thread(_ping_database, state)
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["database"] = _down(state, "database", exc)
    try:
        client = await asyncio.wait_for(state.temporal(), timeout=5)
        await asyncio.wait_for(client.service_client.check_health(), timeout=5)
        checks["temporal"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["temporal"] = _down(state, "temporal", exc)
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if healthy else "down", **checks}, 200 if healthy else 503)


def _down(state: StateDep, what: str, exc: Exception) -> str:
    # The error's name helps in development; anywhere else it is for the log, not for anyone
    # who can reach /healthz.
    log.warning("health check: %s is down: %r", what, exc)
    return f"down: {type(exc).__name__}" if state.settings.is_development else "down"


def _ping_database(state: StateDep) -> None:
    with state.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
