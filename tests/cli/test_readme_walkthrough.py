"""The README's API walkthrough, run as written against a fresh `conveyor dev` (issue 14).

The blocks marked `<!-- walkthrough -->` run in order in one bash, as a person pastes them into
a shell in the checkout after `make run`: from the folder holding `.data`, with the demo data,
the admin token in `.data/admin-token`; only the address differs (a free port, not 8000).
"""

import re
import shutil
import subprocess

import httpx
import pytest

from tests.cli.test_dev import DevGroup, group  # noqa: F401 - `group` is a fixture
from tests.utils.processes import ROOT

README = ROOT / "README.md"
MARK = "<!-- walkthrough -->"
BLOCK = re.compile(re.escape(MARK) + r"\n```sh\n(.*?)^```$", re.S | re.M)
MAKE_RUN_ADDRESS = "http://127.0.0.1:8000"
RUN_SECONDS = 150


def walkthrough() -> list[str]:
    """The marked shell blocks of the README, in order."""
    text = README.read_text()
    blocks = BLOCK.findall(text)
    marks = re.findall(rf"^{re.escape(MARK)}$", text, re.M)
    assert len(blocks) == len(marks), f"every {MARK} line must be followed by a ```sh block"
    return blocks


def test_the_readme_marks_its_walkthrough() -> None:
    blocks = walkthrough()
    assert len(blocks) >= 2
    assert MAKE_RUN_ADDRESS in blocks[0]  # the address `make run` serves; the test uses its own


@pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("jq")),
    reason="the README walkthrough uses curl and jq (make test installs them)",
)
def test_the_walkthrough_works_as_written_on_a_fresh_make_run(group: DevGroup) -> None:  # noqa: F811
    blocks = walkthrough()
    group.env.pop("CONVEYOR_ADMIN_TOKEN")  # as `make run`: the token is made in .data/admin-token
    group.start()
    # One shell for all blocks: each goes on with what the ones before it defined. `-e`: a
    # failing command (an HTTP error, with the `api` helper) fails its block.
    script = ["set -euo pipefail"]
    for n, block in enumerate(blocks, 1):
        script += [f"echo '::block {n}'", block.replace(MAKE_RUN_ADDRESS, group.base)]
    script.append('echo "::order $ORDER"')
    try:
        run = subprocess.run(
            ["bash", "-c", "\n".join(script)],
            cwd=group.data_dir.parent,
            capture_output=True,
            text=True,
            timeout=RUN_SECONDS,
        )
        out, err, code = run.stdout, run.stderr, run.returncode
    except subprocess.TimeoutExpired as exc:
        out, err, code = _text(exc.stdout), _text(exc.stderr), None
    reached = re.findall(r"^::block (\d+)$", out, re.M)
    assert code == 0, (
        f"README walkthrough block {reached[-1] if reached else '?'} of {len(blocks)} "
        f"{'timed out' if code is None else f'exited {code}'}\n{out}\n{err}"
    )
    assert reached == [str(n) for n in range(1, len(blocks) + 1)]
    number = re.search(r"^::order (\S+)$", out, re.M)
    assert number, out
    token = (group.data_dir / "admin-token").read_text().strip()
    order = httpx.get(
        f"{group.base}/api/orders/{number[1]}", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert order["status"] == "completed", order
    assert order["totals"]["paid"] == order["totals"]["total"]
    assert order["totals"]["balance"] == "0.00"
    group.interrupt()


def _text(output: bytes | str | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""
