"""Run Conveyor parts as real processes for tests that kill or multiply them."""

import os
import subprocess
import sys
from pathlib import Path

from conveyor.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def conveyor_env(settings: Settings) -> dict[str, str]:
    """The environment that points a child process at the test's database, Temporal and SMTP."""
    return {
        **os.environ,
        "CONVEYOR_DATABASE_URL": settings.effective_database_url,
        "CONVEYOR_TEMPORAL_ADDRESS": settings.temporal_address,
        "CONVEYOR_TASK_QUEUE": settings.task_queue,
        "CONVEYOR_RULES_DIR": str(settings.rules_dir),
        "CONVEYOR_ORDER_NUMBER_PREFIX": settings.order_number_prefix,
        "CONVEYOR_SMTP_HOST": settings.smtp_host,
        "CONVEYOR_SMTP_PORT": str(settings.smtp_port),
    }


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
