"""Rule registry: reloads changed files, keeps the last good set on a bad edit, thread-safe."""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from routing_rules.models import OrderFacts, RuleFileError
from routing_rules.registry import RuleRegistry

GOOD = """rules:
  - name: web
    when: {channel: web}
    steps: {quote: skip}
  - name: default
    default: true
"""
EDITED = GOOD.replace("name: web", "name: web-store")
BAD = GOOD.replace("quote: skip", "quote: {mode: task}")
WEB = OrderFacts(channel="web")


def _write(path: Path, text: str) -> None:
    """Write and move the mtime clearly forward, as a later save would (timestamps are coarse)."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    mtime = max(path.stat().st_mtime_ns, before + 1_000_000_000)
    os.utime(path, ns=(mtime, mtime))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    _write(tmp_path / "rules.yaml", GOOD)
    return tmp_path


def test_serves_the_same_set_while_nothing_changes(folder: Path) -> None:
    registry = RuleRegistry(folder)
    first = registry.current()
    assert registry.current() is first
    assert first.decide(WEB).rule == "web"
    assert registry.last_error is None


def test_reloads_when_a_file_changes(folder: Path) -> None:
    registry = RuleRegistry(folder)
    before = registry.current()
    _write(folder / "rules.yaml", EDITED)
    after = registry.current()
    assert after.decide(WEB).rule == "web-store"
    assert after.version != before.version


def test_reloads_on_a_same_size_edit_with_a_new_mtime(folder: Path) -> None:
    registry = RuleRegistry(folder)
    before = registry.current()
    same_size = GOOD.replace("name: web\n", "name: wex\n")
    assert len(same_size) == len(GOOD)
    _write(folder / "rules.yaml", same_size)
    assert registry.current().version != before.version
    assert registry.current().decide(WEB).rule == "wex"


def test_reloads_when_files_are_added_removed_or_renamed(folder: Path) -> None:
    registry = RuleRegistry(folder)
    versions = [registry.current().version]
    extra = folder / "00-extra.yaml"
    _write(extra, "rules:\n  - name: eu\n    when: {currency: EUR}\n")
    versions.append(registry.current().version)
    assert [rule.name for rule in registry.current().rules] == ["eu", "web", "default"]
    extra.rename(folder / "01-extra.yaml")
    versions.append(registry.current().version)
    (folder / "01-extra.yaml").unlink()
    versions.append(registry.current().version)
    assert len(set(versions[:3])) == 3
    assert versions[3] == versions[0]  # back to the original files, back to the original version


def test_keeps_the_last_good_set_on_a_bad_edit_and_recovers(folder: Path) -> None:
    registry = RuleRegistry(folder)
    good = registry.current()
    _write(folder / "rules.yaml", BAD)
    assert registry.current() is good
    error = registry.last_error
    assert isinstance(error, RuleFileError)
    assert error.errors == [f"{folder / 'rules.yaml'}:4: step 'quote' has mode task but no `role`"]
    assert registry.current() is good  # the bad files are not re-read on every call

    _write(folder / "rules.yaml", EDITED)
    fixed = registry.current()
    assert fixed.decide(WEB).rule == "web-store"
    assert registry.last_error is None


def test_keeps_the_last_good_set_when_the_files_vanish(folder: Path) -> None:
    registry = RuleRegistry(folder)
    good = registry.current()
    (folder / "rules.yaml").unlink()
    assert registry.current() is good
    assert registry.last_error is not None
    assert "no rule files" in str(registry.last_error)


def test_raises_when_there_never_was_a_good_set(tmp_path: Path) -> None:
    _write(tmp_path / "rules.yaml", BAD)
    registry = RuleRegistry(tmp_path)
    with pytest.raises(RuleFileError, match="has mode task but no `role`"):
        registry.current()
    assert registry.last_error is not None
    _write(tmp_path / "rules.yaml", GOOD)
    assert registry.current().decide(WEB).rule == "web"
    assert registry.last_error is None


def test_many_threads_get_one_consistent_set(folder: Path) -> None:
    registry = RuleRegistry(folder)
    with ThreadPoolExecutor(max_workers=8) as pool:
        sets = list(pool.map(lambda _: registry.current(), range(64)))
    assert len({id(rule_set) for rule_set in sets}) == 1
