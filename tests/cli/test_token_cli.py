"""`conveyor token issue|rotate|revoke|list`: an operator manages an employee's bearer tokens."""

import re

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from conveyor.audit.models import AuditEntry
from conveyor.cli import main as cli
from conveyor.core.settings import Settings
from tests.utils.api import create_employee


@pytest.fixture
def run(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run `conveyor <args>` against the test database; (exit code, stdout, stderr)."""
    monkeypatch.setattr(cli, "settings", settings)

    def run(*args: str) -> tuple[int, str, str]:
        code = cli.main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


async def _status(api: httpx.AsyncClient, token: str) -> int:
    answer = await api.get("/api/tasks", headers={"Authorization": f"Bearer {token}"})
    return answer.status_code


async def test_issue_list_rotate_and_revoke_from_the_command_line(
    api: httpx.AsyncClient, engine: Engine, run
) -> None:
    clerk = await create_employee(api, ["warehouse"])
    code, out, err = run(
        "token", "issue", clerk["email"].upper(), "--name", "ci", "--expires-in-days", "3"
    )
    assert code == 0, err
    issued = out.strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", issued) and "expires" in err
    assert await _status(api, issued) == 200

    code, out, _ = run("token", "list", clerk["email"])
    assert code == 0 and "initial" in out and "ci" in out and issued not in out
    ci_id = int(re.search(r"^\s*(\d+)\s+ci\b", out, re.M).group(1))

    code, out, err = run("token", "rotate", clerk["email"], "--id", str(ci_id))
    assert code == 0, err
    replacement = out.strip()
    assert await _status(api, issued) == 401 and await _status(api, replacement) == 200

    code, out, _ = run("token", "revoke", clerk["email"], "--all")
    assert code == 0 and "2 token(s)" in out
    assert await _status(api, replacement) == 401 and await _status(api, clerk["token"]) == 401
    code, out, _ = run("token", "list", clerk["email"])
    assert out.count("revoked") == 3

    with Session(engine) as session:
        actors = set(
            session.exec(
                select(AuditEntry.actor).where(AuditEntry.entity == "employee_token")
            ).all()
        )
    assert actors == {"cli"}


def test_unknown_employee_and_bad_arguments(run) -> None:
    code, _, err = run("token", "list", "nobody@example.com")
    assert code == 2 and "no employee" in err
    with pytest.raises(SystemExit):
        run("token", "issue", "x@example.com", "--expires-in-days", "0")
    with pytest.raises(SystemExit):
        run("token", "revoke", "x@example.com")  # --id or --all
