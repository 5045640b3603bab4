"""`pip install .` installs Conveyor's own top-level names and nothing else, with its data files."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOP_LEVEL = {"conveyor", "workflows", "activities", "routing_rules", "api", "worker"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[zipfile.ZipFile, str]:
    """The wheel `pip install .` would install, and what the build printed."""
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (path,) = out.glob("conveyor-*.whl")
    return zipfile.ZipFile(path), build.stdout + build.stderr


def test_installs_only_our_top_level_names(wheel: tuple[zipfile.ZipFile, str]) -> None:
    archive, _ = wheel
    (top_level,) = [n for n in archive.namelist() if n.endswith(".dist-info/top_level.txt")]
    assert set(archive.read(top_level).decode().split()) == TOP_LEVEL
    roots = {name.split("/")[0] for name in archive.namelist()}
    assert {r.removesuffix(".py") for r in roots if ".dist-info" not in r} == TOP_LEVEL


def test_builds_without_the_flat_layout_warning(wheel: tuple[zipfile.ZipFile, str]) -> None:
    _, output = wheel
    assert "flat-layout" not in output
    assert "Multiple top-level packages" not in output


def test_ships_every_data_file_the_code_reads(wheel: tuple[zipfile.ZipFile, str]) -> None:
    archive, _ = wheel
    names = set(archive.namelist())
    for data_dir in (
        "conveyor/pages/templates",
        "conveyor/pages/static",
        "conveyor/notification/templates",
        "conveyor/migrations/versions",
        "routing_rules/rules",
    ):
        shipped = {n for n in names if n.startswith(data_dir + "/")}
        in_tree = {
            p.relative_to(ROOT).as_posix()
            for p in (ROOT / data_dir).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }
        assert in_tree, data_dir
        assert in_tree <= shipped, sorted(in_tree - shipped)
    assert "conveyor/migrations/script.py.mako" in names
