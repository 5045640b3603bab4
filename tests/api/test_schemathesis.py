"""Schemathesis over the whole OpenAPI document: no 5xx, and every answer matches its schema.

The real app runs as a `conveyor api` process (uvicorn, as in production) with a worker, on
the test's database and the shared Temporal dev server. Schemathesis reads the running
server's /openapi.json and calls every operation under /api/ and /webhooks/ twice: once with
the admin token and once with a clearance-0 warehouse clerk's token (created through
`POST /api/employees`). Webhooks answer 401 to the unsigned bodies it sends, which is fine.

Checks: `not_a_server_error` (no 5xx) and `response_schema_conformance` (a body whose status
code the operation documents must match the documented schema). Undocumented status codes
(403, 404, 409, 429 ...) are not failures by themselves.

Each operation gets examples that fit its schema and examples that break it (negative mode:
wrong types, missing fields, a dropped Authorization header). The number per operation and
mode is bounded (CONVEYOR_SCHEMATHESIS_EXAMPLES, default 20, for the admin; the clerk, whom
most operations refuse before they read the request, gets a quarter of it), generation is
derandomized with a fixed seed, there is no shrinking, so the file runs in a few minutes as
part of `make test`; raise the variable for a deeper run (200 takes about half an hour). Both
databases run: PostgreSQL takes longer than SQLite (measured with some 300 operations: about
60 s per caller on SQLite and 100 s on PostgreSQL at 20 examples), and it found bugs SQLite
cannot (32-bit ids, NUL bytes in text).
"""

import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.modes import GenerationMode
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import response_schema_conformance

from conveyor.core import temporal_server
from conveyor.core.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.utils.processes import ROOT, conveyor_env, start_worker, stop

EXAMPLES = int(os.environ.get("CONVEYOR_SCHEMATHESIS_EXAMPLES", "20"))
SEED = 12
STARTUP_SECONDS = 60
CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """`conveyor api` and a worker as child processes; yields the API's base URL."""
    port = temporal_server.free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **conveyor_env(settings),
        "CONVEYOR_ADMIN_TOKEN": ADMIN_TOKEN,
        "CONVEYOR_SHOPIFY_SECRET": "schemathesis-shopify-secret",
        "CONVEYOR_DATA_DIR": str(settings.data_dir),
    }
    worker = start_worker(settings)
    with open(tmp_path / "api.log", "ab") as log:
        api = subprocess.Popen(
            [sys.executable, "-m", "conveyor.cli.main", "api", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert api.poll() is None, (tmp_path / "api.log").read_text()
            try:
                httpx.get(f"{base}/healthz", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "conveyor api did not start"
                time.sleep(0.2)
        yield base
    finally:
        stop(api)
        stop(worker)


@pytest.fixture(params=["admin", "clerk"])
def token(request: pytest.FixtureRequest, server: str) -> str:
    """The admin token, or a clearance-0 warehouse clerk's own token."""
    if request.param == "admin":
        return ADMIN_TOKEN
    response = httpx.post(
        f"{server}/api/employees",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        json={
            "name": "Schemathesis Clerk",
            "email": f"clerk-{uuid.uuid4().hex[:8]}@example.com",
            "roles": ["warehouse"],
            "clearance": 0,
        },
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.json()["token"]


def _schema(server: str) -> schemathesis.BaseSchema:
    """The running server's OpenAPI document, its /api/ and /webhooks/ operations."""
    config = SchemathesisConfig.from_dict({"seed": SEED})
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}  # in case the document needs one
    schema = schemathesis.openapi.from_url(
        f"{server}/openapi.json", config=config, headers=headers, timeout=30
    )
    return schema.include(path_regex=r"^/(api|webhooks)/")


def _exercise(
    operation: APIOperation,
    mode: GenerationMode,
    headers: dict[str, str],
    sent: Counter[str],
    examples: int,
) -> None:
    """`examples` generated requests for one operation; the first failing check raises."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failure is reported
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    def run(case: schemathesis.Case) -> None:
        sent[mode.value] += 1
        case.call_and_validate(headers=headers, checks=CHECKS, timeout=60)

    run()


def _server_errors(log: Path) -> str:
    """The distinct exceptions the server logged (a 5xx leaves its traceback in the log)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    lines = {line for line in text.splitlines() if re.match(r"^[\w.]+(Error|Exception)\b", line)}
    return "\n".join(sorted(lines))


def test_every_operation_answers_within_its_schema(server: str, token: str, tmp_path: Path) -> None:
    schema = _schema(server)
    headers = {"Authorization": f"Bearer {token}"}
    examples = EXAMPLES if token == ADMIN_TOKEN else max(3, EXAMPLES // 4)
    failures: list[str] = []
    operations = 0
    sent: Counter[str] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _exercise(operation, mode, headers, sent, examples)
            except Unsatisfiable:
                continue  # nothing to negate (no parameters, no body): positive covers it
            except (Exception, FailureGroup) as exc:  # noqa: BLE001 - all are collected, reported
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    print(f"{operations} operations, requests sent: {dict(sent)}")
    assert operations > 50, operations  # the whole document, not an empty filter
    assert sent["positive"] >= operations and sent["negative"] >= operations, sent
    log = _server_errors(tmp_path / "api.log")
    assert not failures, "\n\n".join([*failures, "server log:", log])
