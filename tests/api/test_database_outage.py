"""A database that cannot be reached: every API answer is a 503 with the reason, pages say so."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio

from api.main import create_app
from conveyor.core import temporal_server
from conveyor.core.db import DATABASE_UNREACHABLE, RETRY_AFTER_SECONDS
from conveyor.core.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.utils.pages import PageClient


@pytest_asyncio.fixture
async def unreachable_api(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The real app on a PostgreSQL address where nothing listens (the server is down)."""
    port = temporal_server.free_port()
    settings = Settings(
        database_url=f"postgresql+psycopg://conveyor@127.0.0.1:{port}/conveyor",
        # Nothing here reaches Temporal: the database fails first.
        temporal_address=f"127.0.0.1:{temporal_server.free_port()}",
        admin_token=ADMIN_TOKEN,
        data_dir=tmp_path / "data",
    )
    app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://conveyor.test",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=60,
    ) as client:
        yield client
    app.state.conveyor.engine.dispose()


def _unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": DATABASE_UNREACHABLE}
    assert response.headers["retry-after"] == str(RETRY_AFTER_SECONDS)


async def test_api_answers_503_json_when_the_database_is_down(
    unreachable_api: httpx.AsyncClient,
) -> None:
    api = unreachable_api
    _unavailable(await api.post("/api/customers", json={"name": "A", "email": "a@example.com"}))
    _unavailable(await api.get("/api/orders"))
    _unavailable(await api.get("/api/customers/1"))
    # An employee token is looked up in the database before the route runs (api/guard.py):
    # the same 503, neither a 401 nor a 500.
    _unavailable(await api.get("/api/orders", headers={"Authorization": "Bearer emp-token-1"}))
    health = await api.get("/healthz")
    assert health.status_code == 503 and health.json()["database"].startswith("down")


async def test_pages_say_the_database_cannot_be_reached(
    unreachable_api: httpx.AsyncClient,
) -> None:
    browser = PageClient(unreachable_api)
    try:
        await browser.open()  # the sign-in form needs no database
        page = await browser.post("/login", {"kind": "staff", "token": ADMIN_TOKEN})
        assert page.status_code == 503
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
        assert "Unavailable right now" in page.text
        assert "The database cannot be reached right now." in page.text
        assert "Nothing was lost" in page.text
    finally:
        await browser.aclose()
