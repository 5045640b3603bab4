"""`conveyor dev` as a user runs it: one group that starts, serves, stops cleanly and resumes."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conveyor.core import temporal_server
from tests.utils.processes import ROOT

ADMIN = "dev-test-admin-token-0123456789"
STARTUP_SECONDS = 120


def _pids_of(data_dir: Path) -> list[int]:
    """Processes whose environment points at this data folder (every child of the group)."""
    marker = f"CONVEYOR_DATA_DIR={data_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


class DevGroup:
    """A `conveyor dev` process on its own free ports and data folder."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.http_port = temporal_server.free_port()
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
        self.env = {
            **inherited,
            "CONVEYOR_DATA_DIR": str(data_dir),
            "CONVEYOR_ADMIN_TOKEN": ADMIN,
            "CONVEYOR_HTTP_PORT": str(self.http_port),
            "CONVEYOR_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_server.free_port()}",
            "CONVEYOR_TEMPORAL_UI_PORT": str(temporal_server.free_port()),
            "CONVEYOR_SMTP_PORT": str(temporal_server.free_port()),
            "CONVEYOR_TASK_QUEUE": "conveyor",
        }
        self.process: subprocess.Popen | None = None
        self.base = f"http://127.0.0.1:{self.http_port}"

    def start(self) -> str:
        """Start and wait for the banner; returns what it printed."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "conveyor.cli.main", "dev"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        out = []
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            out.append(line)
            tokens = any(seen.startswith("  API tokens") for seen in out)
            if tokens and line.startswith("    ") and "credit" in line:  # the last token
                return "".join(out)
        raise AssertionError("conveyor dev did not print its banner:\n" + "".join(out))

    def interrupt(self) -> None:
        """Ctrl-C, and wait for the group to stop."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        self.process.wait(60)


def kill(dev: DevGroup) -> None:
    """Kill what is left of the group (after a failed test)."""
    if dev.process and dev.process.poll() is None:
        dev.process.kill()
    for pid in _pids_of(dev.data_dir):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def group(tmp_path: Path) -> Iterator[DevGroup]:
    dev = DevGroup(tmp_path / ".data")  # named as `make run` names it in the checkout
    yield dev
    kill(dev)


def _wait_for(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError("condition not reached")


def test_dev_serves_stops_cleanly_and_resumes_in_flight_orders(group: DevGroup) -> None:
    banner = group.start()
    assert f"{group.base}/healthz" in banner and ADMIN in banner
    assert "alice@conveyor.example" in banner  # demo data on first start
    assert "alice-demo" in banner  # her sign-in password (tests/pages/test_demo.py signs in)
    api = httpx.Client(base_url=group.base, headers={"Authorization": f"Bearer {ADMIN}"})
    assert api.get("/healthz").status_code == 200
    sku = "MOUSE-WL"
    before = api.get(f"/api/inventory/{sku}").json()
    # A phone order stops at the warehouse's picking task (default rules): in flight.
    order = api.post(
        "/api/orders",
        json={"customer_id": 4, "channel": "phone", "lines": [{"sku": sku, "qty": 2}]},
    )
    assert order.status_code == 201, order.text
    number = order.json()["number"]

    def open_task() -> dict | None:
        tasks = api.get(f"/api/orders/{number}").json()["tasks"]
        return next((t for t in tasks if t["status"] == "open"), None)

    picking = _wait_for(open_task)
    assert picking["step"] == "picking"
    children = _pids_of(group.data_dir)
    assert len(children) >= 5  # temporal, mail sink, worker, api (+ the group itself)

    group.interrupt()
    assert group.process is not None and group.process.returncode == 0
    assert _pids_of(group.data_dir) == [], "conveyor dev left processes behind"
    with pytest.raises(httpx.ConnectError):
        api.get("/healthz")

    banner = group.start()  # same data folder: no new demo data, the order carries on
    assert api.get("/healthz").status_code == 200
    done = api.post(f"/api/tasks/{picking['id']}/complete", json={"note": "after restart"})
    assert done.status_code == 200, done.text
    packing = _wait_for(lambda: (t := open_task()) and t["step"] == "packing" and t)
    assert api.post(f"/api/tasks/{packing['id']}/complete", json={}).status_code == 200
    total = api.get(f"/api/orders/{number}").json()["totals"]["total"]
    paid = api.post(f"/api/orders/{number}/payments", json={"amount": total})
    assert paid.status_code == 201, paid.text
    final = _wait_for(
        lambda: (o := api.get(f"/api/orders/{number}").json())["status"] == "completed" and o
    )
    assert [e["kind"] for e in final["events"]].count("packed") == 1
    after = api.get(f"/api/inventory/{sku}").json()
    assert after["on_hand"] == before["on_hand"] - 2
    group.interrupt()
    assert _pids_of(group.data_dir) == []
