"""`docker-compose.yml` is fit for production: pinned images, healthchecks, metrics, resource
hints, a stop grace above the shutdown grace, and every secret from the environment.

The file is parsed and checked as data; then `docker compose config` (the compose plugin) or
Debian's `docker-compose config` validates and interpolates it, where one is installed (`make
chromium` installs Debian's; neither needs a Docker engine for `config`).
"""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
# What `docker compose` must be given (it refuses to start without them), with dummy values.
REQUIRED = {
    "POSTGRES_PASSWORD": "compose-test-password",
    "CONVEYOR_ADMIN_TOKEN": "compose-test-admin-token-0123",
    "CONVEYOR_SESSION_SECRET": "compose-test-session-secret",
}
SECRET_NAME = re.compile(r"PASSWORD|PWD|SECRET|TOKEN|API_KEY|PRIVATE", re.I)
FROM_ENV = re.compile(r"^\$\{[A-Z_][A-Z0-9_]*:\?[^}]*\}$")  # ${VAR:?message}: required
URL_PASSWORD = re.compile(r"://[^:/@\s]+:([^@\s]+)@")


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _services() -> dict[str, dict[str, Any]]:
    return _compose()["services"]


def _seconds(value: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", value):
        total += float(number) * units[unit]
    return total


def _environment(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return env


def test_every_image_is_pinned_to_a_version() -> None:
    for name, service in _services().items():
        if "image" not in service:
            assert "build" in service, name  # ours: built from the Dockerfile
            continue
        image = service["image"]
        tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
        assert tag and tag != "latest" and re.search(r"\d", tag), f"{name}: {image} not pinned"


def test_api_and_worker_have_healthchecks() -> None:
    services = _services()
    api, worker = services["api"]["healthcheck"], services["worker"]["healthcheck"]
    assert "/healthz" in " ".join(api["test"])
    port = _environment(services["worker"])["CONVEYOR_WORKER_METRICS_PORT"]
    assert f":{port}/metrics" in " ".join(worker["test"])
    for check in (api, worker):
        assert check["test"][0] in ("CMD", "CMD-SHELL")
        assert check.get("interval") and check.get("timeout") and check.get("retries")


def test_metrics_are_exposed() -> None:
    services = _services()
    env = _environment(services["worker"])
    port = str(env["CONVEYOR_WORKER_METRICS_PORT"])
    assert int(port) > 0 and env["CONVEYOR_WORKER_METRICS_HOST"] == "0.0.0.0"
    exposed = [str(p) for p in services["worker"].get("expose", [])]
    exposed += [str(p).rsplit(":", 1)[-1] for p in services["worker"].get("ports", [])]
    assert port in exposed
    # The API's /metrics is served on its HTTP port (behind a monitor.view bearer token).
    assert any(str(p).endswith(":8000") for p in services["api"]["ports"])


def test_api_and_worker_have_resource_hints_and_a_stop_grace_above_the_shutdown_grace() -> None:
    for name in ("api", "worker"):
        service = _services()[name]
        resources = service["deploy"]["resources"]
        assert float(resources["limits"]["cpus"]) > 0, name
        assert re.fullmatch(r"\d+[KMG]", str(resources["limits"]["memory"])), name
        assert re.fullmatch(r"\d+[KMG]", str(resources["reservations"]["memory"])), name
        grace = float(_environment(service)["CONVEYOR_SHUTDOWN_GRACE_SECONDS"])
        assert _seconds(service["stop_grace_period"]) > grace, name


def _literal_secrets(name: str, env: dict[str, Any]) -> list[str]:
    found = []
    for key, value in env.items():
        if value is None:
            continue  # passed on from the environment when set
        text = str(value)
        if SECRET_NAME.search(key) and not FROM_ENV.match(text):
            found.append(f"{name}: {key}={text}")
        for password in URL_PASSWORD.findall(text):
            if not FROM_ENV.match(password):
                found.append(f"{name}: {key} has a password in its URL")
    return found


def test_no_secret_is_written_in_the_file() -> None:
    compose = _compose()
    found = _literal_secrets("x-conveyor-env", compose["x-conveyor-env"])
    for name, service in compose["services"].items():
        found += _literal_secrets(name, _environment(service))
    assert found == []
    # And the required ones are all asked of the environment.
    text = COMPOSE.read_text()
    for variable in REQUIRED:
        assert re.search(rf"\$\{{{variable}:\?", text), variable


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def _config(command: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    empty = tmp_path / "empty.env"  # not the checkout's .env, if a developer has one
    empty.write_text("")
    return subprocess.run(
        [*command, "--env-file", str(empty), "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), **env},
    )


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed (make chromium)")
    # Without the secrets it refuses, naming what is missing.
    refused = _config(command, {}, tmp_path)
    assert refused.returncode != 0
    assert "POSTGRES_PASSWORD" in refused.stderr or "CONVEYOR_" in refused.stderr
    done = _config(command, REQUIRED, tmp_path)
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)["services"]
    api_env = _environment(resolved["api"])
    assert api_env["CONVEYOR_ADMIN_TOKEN"] == REQUIRED["CONVEYOR_ADMIN_TOKEN"]
    assert REQUIRED["POSTGRES_PASSWORD"] in api_env["CONVEYOR_DATABASE_URL"]
    assert _environment(resolved["postgres"])["POSTGRES_PASSWORD"] == REQUIRED["POSTGRES_PASSWORD"]
    assert api_env.get("CONVEYOR_SHOPIFY_SECRET") is None  # unset here: nothing passed on
