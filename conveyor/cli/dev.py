"""`conveyor dev`: Temporal dev server, migrations, demo data, worker and API as one group.

Every child runs in its own process group; Ctrl-C (or SIGTERM) stops them all, the API first,
each given the grace period to finish its work, and a child that dies is restarted, so the group
keeps running until you stop it. On one box, taking orders in comes first: the Temporal server
and the mail sink run at a lower CPU priority than the API, and so does the worker on
PostgreSQL. On SQLite the worker keeps the API's priority: it shares the database's one write
lock with the API, and a low-priority worker holding it would keep the API waiting (priority
inversion); there the API's writes go first instead (core/intake.py).
"""

import contextlib
import logging
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from conveyor.core import temporal_server
from conveyor.core.db import make_engine
from conveyor.core.migrate import upgrade
from conveyor.core.settings import Settings
from conveyor.demo.orders import place_demo_orders
from conveyor.demo.seed import CUSTOMER_LOGINS, is_seeded, load_accounts, seed

RESTART_DELAY_SECONDS = 2.0
# How much longer than the grace period (settings.shutdown_grace_seconds) a child may take to
# stop before it is killed: its own shutdown's last steps (the app's shutdown, flushing logs).
STOP_SLACK_SECONDS = 5.0
# The `nice` increment of the background children; the API keeps 0.
BACKGROUND_NICE = 10


def _admin_token(settings: Settings) -> str:
    if settings.admin_token:
        return settings.admin_token
    path = settings.data_dir / "admin-token"
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_urlsafe(24)
    path.write_text(token)
    path.chmod(0o600)
    return token


def _port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def _niced(command: list[str]) -> list[str]:
    """The command run at the background priority (`nice -n 10 ...`; as is without `nice`).

    `nice` sets it before the program starts, so every thread it creates inherits it (Linux
    keeps the priority per thread: lowering it afterwards would miss the threads already there).
    """
    nice = shutil.which("nice")
    return [nice, "-n", str(BACKGROUND_NICE), *command] if nice else command


def _lower_session_priority(pid: int) -> None:
    """Lower the priority of the child's whole session, where Linux schedules by session.

    With autogroup scheduling (the default on desktop and many server kernels) each session
    shares the CPU as one group, and a process's own nice only counts inside its group; every
    child here has its own session, so the group's nice is what gives the API precedence.
    """
    with contextlib.suppress(OSError):  # no autogroup: the process nice above is what counts
        Path(f"/proc/{pid}/autogroup").write_text(str(BACKGROUND_NICE))


class _Child:
    def __init__(
        self,
        name: str,
        command: list[str],
        env: dict[str, str],
        log: Path,
        *,
        background: bool = False,
    ) -> None:
        self.name, self.env, self.log = name, env, log
        self.background = background
        self.command = _niced(command) if background else command
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if self.background:
            _lower_session_priority(self.process.pid)

    def terminate(self) -> None:
        """SIGTERM to the child's process group: it begins its graceful shutdown."""
        if self.process and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

    def wait_or_kill(self, deadline: float) -> None:
        """Wait for the child until `deadline` (monotonic clock), then SIGKILL its group."""
        if self.process is None:
            return
        try:
            self.process.wait(max(deadline - time.monotonic(), 0))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def stop_children(children: list[_Child], grace_seconds: float) -> None:
    """Stop the children one at a time, the last started first: the API, then the worker, then
    the mail sink and Temporal. Each gets SIGTERM and the grace period (and a little more) to
    finish its work before it is killed; the API's requests in flight can still reach the
    worker (a task's update), the worker's last activities the mail sink and Temporal."""
    for child in reversed(children):
        child.terminate()
        child.wait_or_kill(time.monotonic() + grace_seconds + STOP_SLACK_SECONDS)


def _wait_healthy(url: str, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def run_dev(settings: Settings) -> int:
    """Run the whole system in the foreground until Ctrl-C."""
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    logs = data_dir / "logs"
    logs.mkdir(exist_ok=True)
    token = _admin_token(settings)
    temporal_port = _port_of(settings.temporal_address)
    env = {
        **os.environ,
        "CONVEYOR_ADMIN_TOKEN": token,
        "CONVEYOR_DATA_DIR": str(data_dir),
        "CONVEYOR_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
    }

    print("conveyor dev: starting the Temporal dev server ...", flush=True)
    temporal = _Child(
        "temporal",
        temporal_server.dev_server_command(
            port=temporal_port,
            ui_port=settings.temporal_ui_port,
            db_file=data_dir / "temporal.db",
        ),
        env,
        logs / "temporal.log",
        background=True,
    )
    children: list[_Child] = [temporal]
    stopping = False

    def _stop_all(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop_all)
    signal.signal(signal.SIGTERM, _stop_all)
    try:
        temporal.start()
        assert temporal.process is not None
        temporal_server.wait_for_port(temporal_port, process=temporal.process)
        print("conveyor dev: migrating the database ...", flush=True)
        upgrade(settings.effective_database_url)
        engine = make_engine(settings.effective_database_url)
        accounts_file = data_dir / "demo-accounts.json"
        fresh = not is_seeded(engine)
        if fresh:
            print("conveyor dev: adding demo data ...", flush=True)
            seed(engine, accounts_file)
        engine.dispose()
        python = sys.executable
        if settings.dev_mail_sink:
            children.append(
                _Child(
                    "mail",
                    [python, "-m", "conveyor.cli.main", "mail-sink"],
                    env,
                    logs / "mail.log",
                    background=True,
                )
            )
        children.append(
            _Child(
                "worker",
                [python, "-m", "worker"],
                env,
                logs / "worker.log",
                background=not settings.is_sqlite,
            )
        )
        children.append(
            _Child(
                "api",
                [
                    python,
                    "-m",
                    "uvicorn",
                    "api.main:create_app",
                    "--factory",
                    "--host",
                    settings.http_host,
                    "--port",
                    str(settings.http_port),
                    "--timeout-graceful-shutdown",
                    str(math.ceil(settings.shutdown_grace_seconds)),
                ],
                env,
                logs / "api.log",
            )
        )
        for child in children[1:]:
            child.start()
        base = f"http://{settings.http_host}:{settings.http_port}"
        if not _wait_healthy(f"{base}/healthz"):
            print(f"conveyor dev: the API did not become healthy; see {logs}", flush=True)
        _print_banner(settings, base, token, load_accounts(accounts_file), logs)
        if fresh:
            _start_demo_orders(settings, base, token, load_accounts(accounts_file), logs)
        while not stopping:
            for child in children:
                if child.process and child.process.poll() is not None and not stopping:
                    print(
                        f"conveyor dev: {child.name} exited ({child.process.returncode}); "
                        f"restarting (log: {child.log})",
                        flush=True,
                    )
                    time.sleep(RESTART_DELAY_SECONDS)
                    child.start()
            time.sleep(0.5)
    finally:
        print("conveyor dev: stopping ...", flush=True)
        stop_children(children, settings.shutdown_grace_seconds)
        print("conveyor dev: stopped", flush=True)
    return 0


def _start_demo_orders(
    settings: Settings, base: str, token: str, accounts: list[dict], logs: Path
) -> None:
    """Place the demo orders in the background (log: demo.log), so the banner is not held up."""
    logger = logging.getLogger("demo")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(logging.FileHandler(logs / "demo.log"))
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not every demo request on the console

    def work() -> None:
        started = time.monotonic()
        engine = make_engine(settings.effective_database_url)
        try:
            placed = place_demo_orders(base, token, accounts, engine)
        finally:
            engine.dispose()
        took = time.monotonic() - started
        if placed is None:
            print(
                f"conveyor dev: the demo orders stopped half-way; see {logs / 'demo.log'}",
                flush=True,
            )
        else:
            print(
                f"conveyor dev: demo orders ready: {placed} orders in every state ({took:.0f} s)",
                flush=True,
            )

    threading.Thread(target=work, name="demo-orders", daemon=True).start()
    print(
        f"conveyor dev: placing demo orders in the background (log: {logs / 'demo.log'})",
        flush=True,
    )


def _print_banner(
    settings: Settings, base: str, token: str, accounts: list[dict], logs: Path
) -> None:
    mail = settings.mail_sink_dir.resolve()
    lines = [
        "",
        "Conveyor is running. Ctrl-C stops everything.",
        f"  API + pages     {base}   (OpenAPI: {base}/docs)",
        f"  Health          {base}/healthz",
        f"  Temporal UI     http://127.0.0.1:{settings.temporal_ui_port}",
        f"  Temporal gRPC   {settings.temporal_address}",
        f"  Mail sink       smtp://{settings.smtp_host}:{settings.smtp_port} -> {mail}"
        "   (sent mail: GET /api/outbox)",
        f"  Logs            {logs}",
        f"  Admin token     {token}",
        f"  Sign in         {base}/login  (e-mail + password below; or the admin token)",
    ]
    if accounts:
        lines.append("  Staff (e-mail / password):")
        for account in accounts:
            password = account.get("password", "(none: send a set-password link)")
            roles = ",".join(account["roles"])
            lines.append(f"    {account['email']:<26} {password:<16} {roles}")
        lines.append("  Customer center (e-mail / password):")
        for email, password in CUSTOMER_LOGINS.items():
            lines.append(f"    {email:<26} {password}")
        lines.append("  API tokens for scripts (Authorization: Bearer <token>):")
        for account in accounts:
            roles = ",".join(account["roles"])
            lines.append(f"    {account['email']:<26} {roles:<18} {account['token']}")
    print("\n".join(lines), flush=True)
