"""Run Conveyor parts as real processes for tests that kill or multiply them."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from conveyor.core import temporal_server
from conveyor.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def conveyor_env(settings: Settings) -> dict[str, str]:
    """The environment that points a child process at the test's database, Temporal and SMTP,
    its stores (the secrets file) and its outbound retry timings."""
    env = {
        **os.environ,
        "CONVEYOR_DATABASE_URL": settings.effective_database_url,
        "CONVEYOR_TEMPORAL_ADDRESS": settings.temporal_address,
        "CONVEYOR_TASK_QUEUE": settings.task_queue,
        "CONVEYOR_RULES_DIR": str(settings.rules_dir),
        "CONVEYOR_ORDER_NUMBER_PREFIX": settings.order_number_prefix,
        "CONVEYOR_SMTP_HOST": settings.smtp_host,
        "CONVEYOR_SMTP_PORT": str(settings.smtp_port),
        "CONVEYOR_OUTBOUND_POLL_SECONDS": str(settings.outbound_poll_seconds),
        "CONVEYOR_OUTBOUND_TIMEOUT_SECONDS": str(settings.outbound_timeout_seconds),
        "CONVEYOR_OUTBOUND_FIRST_RETRY_SECONDS": str(settings.outbound_first_retry_seconds),
        "CONVEYOR_OUTBOUND_RETRY_MAX_SECONDS": str(settings.outbound_retry_max_seconds),
        "CONVEYOR_CARRIER_TRACKING_URLS": json.dumps(settings.carrier_tracking_urls),
    }
    if settings.webhook_secrets_file is not None:
        env["CONVEYOR_WEBHOOK_SECRETS_FILE"] = str(settings.webhook_secrets_file)
    return env


def start_worker(settings: Settings) -> subprocess.Popen:
    """A `python -m worker` process for the test's task queue."""
    return subprocess.Popen([sys.executable, "-m", "worker"], cwd=ROOT, env=conveyor_env(settings))


def stop(process: subprocess.Popen) -> None:
    """Terminate a child and wait for it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


STARTUP_SECONDS = 60


class ApiProcess:
    """`conveyor api` as a child process on a free port, pointed at the test's database.

    It has the admin token and the store and payment secrets of the settings, so it takes the
    same webhooks as the in-process app.
    """

    def __init__(self, settings: Settings, log: Path) -> None:
        self.port = temporal_server.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**conveyor_env(settings), "CONVEYOR_DATA_DIR": str(settings.data_dir)}
        if settings.admin_token is not None:
            env["CONVEYOR_ADMIN_TOKEN"] = settings.admin_token
        secrets = {
            "CONVEYOR_SHOPIFY_SECRET": settings.shopify_secret,
            "CONVEYOR_WOOCOMMERCE_SECRET": settings.woocommerce_secret,
            "CONVEYOR_STRIPE_SECRET": settings.stripe_secret,
        }
        for name, secret in secrets.items():
            if secret is not None:
                env[name] = secret.get_secret_value()
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "conveyor.cli.main", "api", "--port", str(self.port)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def wait_up(self) -> None:
        """Until it answers HTTP (a page that does not ask Temporal, which may be down)."""
        deadline = time.monotonic() + STARTUP_SECONDS
        async with httpx.AsyncClient(base_url=self.base, timeout=5) as client:
            while time.monotonic() < deadline:
                assert self.process.poll() is None, "conveyor api exited"
                try:
                    await client.get("/openapi.json")
                    return
                except httpx.TransportError:
                    await asyncio.sleep(0.2)
        raise AssertionError("conveyor api did not start")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no lifespan teardown, whatever was in memory is lost."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(15)


@asynccontextmanager
async def running_api(
    settings: Settings, log: Path
) -> AsyncIterator[tuple[ApiProcess, httpx.AsyncClient]]:
    """A `conveyor api` process and a client authenticated as admin; stopped at the end."""
    api = ApiProcess(settings, log)
    try:
        await api.wait_up()
        assert settings.admin_token is not None
        headers = {"Authorization": f"Bearer {settings.admin_token}"}
        async with httpx.AsyncClient(base_url=api.base, headers=headers, timeout=60) as client:
            yield api, client
    finally:
        stop(api.process)
