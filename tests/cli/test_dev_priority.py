"""`conveyor dev` runs Temporal and the mail sink at a lower CPU priority than the API.

The worker keeps the API's priority on SQLite (the default here): it shares the one write lock.
"""

import os
from pathlib import Path

from conveyor.cli.dev import BACKGROUND_NICE
from tests.cli.test_dev import DevGroup, _pids_of, group  # noqa: F401 - `group` is a fixture


def _nice(pid: int) -> int:
    # /proc/<pid>/stat: the fields after the command name start at `state`; `nice` is the 17th.
    fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[16])


def _group_nice(pid: int) -> int | None:
    # "/autogroup-123 nice 10"; None where the kernel schedules without autogroups.
    path = Path("/proc") / str(pid) / "autogroup"
    return int(path.read_text().split()[-1]) if path.exists() else None


def _cmdline(pid: int) -> str:
    return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_background_children_yield_the_cpu_to_the_api(group: DevGroup) -> None:  # noqa: F811
    group.start()
    children = {pid: _cmdline(pid) for pid in _pids_of(group.data_dir)}
    api = [pid for pid, cmd in children.items() if "uvicorn" in cmd]
    worker = [pid for pid, cmd in children.items() if cmd.rstrip().endswith("-m worker")]
    temporal = [pid for pid, cmd in children.items() if "start-dev" in cmd]
    mail = [pid for pid, cmd in children.items() if "mail-sink" in cmd]
    assert api and worker and temporal and mail, children
    ours = os.nice(0)
    background = min(ours + BACKGROUND_NICE, 19)
    assert {_nice(pid) for pid in api + worker} == {ours}
    assert {_nice(pid) for pid in temporal + mail} == {background}
    # Each child leads its own session; where sessions are scheduled as groups, the group's.
    if _group_nice(api[0]) is not None:
        assert {_group_nice(pid) for pid in api + worker} == {0}
        assert {_group_nice(pid) for pid in temporal + mail} == {BACKGROUND_NICE}
    group.interrupt()
    assert _pids_of(group.data_dir) == []
