"""The README documents every setting, every make target and every `conveyor` command."""

import argparse
import re

from conveyor.cli.main import build_parser
from conveyor.core.settings import Settings
from tests.utils.processes import ROOT

README = (ROOT / "README.md").read_text()


def _commands(parser: argparse.ArgumentParser, prefix: str) -> list[str]:
    """`conveyor dev`, `conveyor rules check`, ...: every leaf subcommand's words."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, f"{prefix} {name}") or [f"{prefix} {name}"]
    return found


def test_every_setting_is_in_the_readme() -> None:
    prefix = Settings.model_config.get("env_prefix", "")
    missing = [
        f"{prefix}{name}".upper()
        for name in Settings.model_fields
        if f"`{prefix}{name}`".upper() not in README.upper()
    ]
    assert not missing, f"settings the README does not document: {missing}"


def test_every_make_target_is_in_the_readme() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = re.findall(r"^([a-z][a-z-]*):", makefile, re.M)
    assert "run" in targets and "test" in targets
    missing = [t for t in targets if not re.search(rf"`make {re.escape(t)}(?![\w-])", README)]
    assert not missing, f"make targets the README does not document: {missing}"


def test_every_conveyor_command_is_in_the_readme() -> None:
    commands = _commands(build_parser(), "conveyor")
    assert "conveyor dev" in commands and "conveyor token issue" in commands
    missing = [c for c in commands if not re.search(rf"`{re.escape(c)}(?![\w-])", README)]
    assert not missing, f"commands the README does not document: {missing}"
