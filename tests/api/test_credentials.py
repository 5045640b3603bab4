"""Employee bearer tokens end: issued as rows of their own, rotated, revoked, expiring; a
deactivated employee's tokens and page sessions stop working (issue 12, finding 8)."""

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest_asyncio
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client

from api.main import create_app
from conveyor.audit.models import AuditEntry
from conveyor.core.db import make_engine
from conveyor.core.migrate import alembic_config
from conveyor.core.models import utcnow
from conveyor.core.security import hash_token
from conveyor.core.settings import Settings
from conveyor.employee import service as employee_service
from conveyor.employee.models import EmployeeToken
from tests.conftest import ADMIN_TOKEN
from tests.pricing.test_migration import NOW, empty_url  # noqa: F401 - the fixture
from tests.utils.api import auth, create_employee
from tests.utils.pages import staff_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def works(api: httpx.AsyncClient, token: str) -> int:
    """The status of an authenticated read with this token (200 works, 401 refused)."""
    return (await api.get("/api/tasks", headers=bearer(token))).status_code


def _audit(engine: Engine, action: str) -> list[AuditEntry]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(AuditEntry).where(AuditEntry.action == action).order_by(col(AuditEntry.id))
            ).all()
        )


async def test_tokens_are_issued_listed_rotated_and_revoked(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    clerk = await create_employee(api, ["warehouse"])
    first = clerk["token"]
    assert await works(api, first) == 200
    base = f"/api/employees/{clerk['id']}/tokens"

    listed = (await api.get(base)).json()
    assert [(t["name"], t["revoked_at"], t["expires_at"]) for t in listed] == [
        ("initial", None, None)
    ]
    assert "token" not in listed[0] and "token_hash" not in listed[0]

    laptop = await api.post(base, json={"name": "laptop", "expires_in_days": 30})
    assert laptop.status_code == 201, laptop.text
    laptop = laptop.json()
    assert laptop["name"] == "laptop" and laptop["token"] not in (first, "")
    assert await works(api, laptop["token"]) == 200 and await works(api, first) == 200

    # Rotation: a replacement under the same name, the old one refused from now on.
    initial_id = listed[0]["id"]
    rotated = await api.post(f"{base}/{initial_id}/rotate")
    assert rotated.status_code == 201, rotated.text
    rotated = rotated.json()
    assert rotated["name"] == "initial" and rotated["id"] != initial_id
    refused = await api.get("/api/tasks", headers=bearer(first))
    assert refused.status_code == 401 and refused.json() == {"detail": "invalid bearer token"}
    assert await works(api, rotated["token"]) == 200
    again = await api.post(f"{base}/{initial_id}/rotate")
    assert again.status_code == 409  # a revoked token has nothing left to rotate

    # Revocation: the next request with it is refused.
    revoked = await api.delete(f"{base}/{laptop['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert await works(api, laptop["token"]) == 401
    assert await works(api, rotated["token"]) == 200

    # Only hashes are stored; listing shows every token's state, no secret.
    with Session(engine) as session:
        hashes = set(session.exec(select(EmployeeToken.token_hash)).all())
    for secret in (first, laptop["token"], rotated["token"]):
        assert secret not in hashes and hash_token(secret) in hashes
    states = {t["id"]: t["revoked_at"] is not None for t in (await api.get(base)).json()}
    assert states == {initial_id: True, laptop["id"]: True, rotated["id"]: False}

    # Every change is in the audit log, by the admin token as such.
    issued = _audit(engine, "employee.token_issue")
    assert {e.entity_id for e in issued} >= {str(laptop["id"]), str(rotated["id"])}
    assert {e.actor for e in issued} == {"admin token"}
    assert {e.entity_id for e in _audit(engine, "employee.token_revoke")} == {
        str(initial_id),
        str(laptop["id"]),
    }
    assert all("token_hash" not in (e.after or {}) for e in issued)


async def test_tokens_are_for_admins_and_stay_with_their_employee(api: httpx.AsyncClient) -> None:
    clerk = await create_employee(api, ["warehouse"], clearance=5)
    other = await create_employee(api, ["warehouse"])
    base = f"/api/employees/{clerk['id']}/tokens"
    for call in (
        api.get(base, headers=auth(clerk)),
        api.post(base, json={"name": "mine"}, headers=auth(clerk)),
        api.post(f"/api/employees/{other['id']}/deactivate", headers=auth(clerk)),
    ):
        assert (await call).status_code == 403
    theirs = (await api.get(f"/api/employees/{other['id']}/tokens")).json()[0]["id"]
    assert (await api.delete(f"{base}/{theirs}")).status_code == 404
    assert await works(api, other["token"]) == 200
    assert (await api.get("/api/employees/999999/tokens")).status_code == 404
    assert (await api.post(base, json={"expires_in_days": 0})).status_code == 422
    assert (await api.post(base, json={"name": ""})).status_code == 422


async def test_an_expired_token_is_refused(api: httpx.AsyncClient, engine: Engine) -> None:
    clerk = await create_employee(api, ["warehouse"])
    base = f"/api/employees/{clerk['id']}/tokens"
    short = (await api.post(base, json={"name": "short", "expires_in_days": 1})).json()
    assert await works(api, short["token"]) == 200
    with Session(engine) as session:
        row = session.get(EmployeeToken, short["id"])
        assert row is not None and row.expires_at is not None
        assert timedelta(hours=23) < row.expires_at - utcnow() <= timedelta(days=1)
        assert row.last_used_at is not None  # the use above was recorded
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.add(row)
        session.commit()
    assert await works(api, short["token"]) == 401
    assert await works(api, clerk["token"]) == 200  # the employee's other token lives on
    # A staff sign-in with it fails too.
    page = httpx.AsyncClient(transport=api._transport, base_url=str(api.base_url))
    login = await page.get("/login")
    csrf = login.text.split('name="csrf_token" value="')[1].split('"')[0]
    answer = await page.post(
        "/login", data={"csrf_token": csrf, "kind": "staff", "token": short["token"]}
    )
    assert answer.status_code == 401
    await page.aclose()


@pytest_asyncio.fixture
async def api_with_ttl(
    settings: Settings, temporal_client: Client
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with CONVEYOR_TOKEN_TTL_DAYS=7."""
    app = create_app(settings.model_copy(update={"token_ttl_days": 7}))
    app.state.conveyor._client = temporal_client
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://conveyor.test",
        headers=bearer(ADMIN_TOKEN),
    ) as client:
        yield client
    app.state.conveyor.engine.dispose()


async def test_the_default_lifetime_applies_to_tokens_without_one(
    api_with_ttl: httpx.AsyncClient,
) -> None:
    clerk = await create_employee(api_with_ttl, ["warehouse"])
    base = f"/api/employees/{clerk['id']}/tokens"
    more = (await api_with_ttl.post(base, json={"name": "more"})).json()
    longer = (await api_with_ttl.post(base, json={"name": "long", "expires_in_days": 90})).json()
    by_name = {t["name"]: t for t in (await api_with_ttl.get(base)).json()}
    assert set(by_name) == {"initial", "more", "long"}
    for name, days in (("initial", 7), ("more", 7), ("long", 90)):
        expires = by_name[name]["expires_at"]
        assert expires is not None
        lifetime = datetime.fromisoformat(expires) - utcnow()
        assert timedelta(days=days) - timedelta(minutes=5) < lifetime <= timedelta(days=days)
    assert more["expires_at"] and longer["expires_at"]


async def test_a_deactivated_employee_is_refused_everywhere(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    clerk = await create_employee(api, ["warehouse"])
    spare = (await api.post(f"/api/employees/{clerk['id']}/tokens", json={"name": "spare"})).json()[
        "token"
    ]
    assert (await api.post(f"/api/employees/{clerk['id']}/clock-in")).status_code == 200
    browser = await staff_client(api, clerk["token"])
    assert (await browser.get("/inbox")).status_code == 200

    gone = await api.post(f"/api/employees/{clerk['id']}/deactivate")
    assert gone.status_code == 200, gone.text
    assert (gone.json()["active"], gone.json()["on_duty"]) == (False, False)
    assert await works(api, clerk["token"]) == 401 and await works(api, spare) == 401
    page = await browser.get("/inbox")
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert all(
        t["revoked_at"] for t in (await api.get(f"/api/employees/{clerk['id']}/tokens")).json()
    )
    [entry] = _audit(engine, "employee.deactivate")
    assert entry.actor == "admin token" and entry.entity_id == str(clerk["id"])
    assert entry.after is not None and entry.after["tokens_revoked"] == 2
    assert entry.after["sessions_ended"] == 1
    await browser.aclose()

    # Back again: the old tokens stay revoked, a new one works; no token for the inactive.
    assert (await api.post(f"/api/employees/{clerk['id']}/activate")).json()["active"] is True
    assert await works(api, clerk["token"]) == 401
    fresh = (await api.post(f"/api/employees/{clerk['id']}/tokens", json={})).json()["token"]
    assert await works(api, fresh) == 200
    await api.post(f"/api/employees/{clerk['id']}/deactivate")
    refused = await api.post(f"/api/employees/{clerk['id']}/tokens", json={})
    assert refused.status_code == 409
    assert (await api.post("/api/employees/999999/deactivate")).status_code == 404


def test_existing_tokens_survive_the_migration(empty_url: str) -> None:  # noqa: F811
    command.upgrade(alembic_config(empty_url), "0018")
    old = f"old-token-{uuid.uuid4().hex}"
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO employee (id, name, email, clearance, roles, token_hash, active,"
                " on_duty, created_at) VALUES (1, 'Old', 'old@example.com', 1, '[\"warehouse\"]',"
                " :hash, true, false, :now)"
            ),
            {"hash": hash_token(old), "now": NOW},
        )
        # A row that refers to the employee: the column goes without rebuilding the table.
        conn.execute(
            text("INSERT INTO attendance (id, employee_id, clock_in_at) VALUES (1, 1, :now)"),
            {"now": NOW},
        )
    engine.dispose()
    command.upgrade(alembic_config(empty_url), "heads")
    engine = make_engine(empty_url)
    with Session(engine) as session:
        found = employee_service.get_by_token(session=session, token=old)
        assert found is not None
        employee, token = found
        assert (employee.email, token.name, token.expires_at) == (
            "old@example.com",
            "initial",
            None,
        )
        assert employee_service.get_by_token(session=session, token="not-it") is None
    engine.dispose()
    command.downgrade(alembic_config(empty_url), "0018")
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT token_hash FROM employee WHERE id = 1")).scalar_one()
    engine.dispose()
    assert kept == hash_token(old)
