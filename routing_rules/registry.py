"""The rule set in force: reloaded when rule files change, the last good set kept on bad edits."""

import threading
from pathlib import Path

from routing_rules.loader import RuleSet, load_rule_set
from routing_rules.models import RuleFileError

# (name, mtime_ns, size, inode) of every visible *.yaml file: any edit, rename or removal
# changes it. Hidden files are skipped, as the loader skips them.
_Signature = tuple[tuple[str, int, int, int], ...]


def _signature(directory: Path) -> _Signature:
    entries = []
    try:
        paths = sorted(directory.glob("*.yaml"), key=lambda p: p.name)
    except OSError:
        return ()
    for path in paths:
        if path.name.startswith("."):
            continue
        try:
            stat = path.stat()
        except OSError:  # removed between listing and stat; the next call sees the new state
            continue
        entries.append((path.name, stat.st_mtime_ns, stat.st_size, stat.st_ino))
    return tuple(entries)


class RuleRegistry:
    """Serves the current rule set of a directory to many threads; cheap to call per order."""

    def __init__(self, directory: Path) -> None:
        self._directory = Path(directory)
        self._lock = threading.Lock()
        self._signature: _Signature | None = None
        self._current: RuleSet | None = None
        self._last_error: RuleFileError | None = None

    @property
    def directory(self) -> Path:
        """The directory whose `*.yaml` files are the rules."""
        return self._directory

    @property
    def last_error(self) -> RuleFileError | None:
        """Why the files on disk are not in force, or None when they are."""
        return self._last_error

    def current(self) -> RuleSet:
        """The rule set in force, reloaded if the files changed since the last call.

        When the changed files are bad, the last good set stays in force and `last_error` says
        why; with no good set yet, the RuleFileError is raised.
        """
        # Take the signature before reading, so an edit during the load triggers another load.
        signature = _signature(self._directory)
        with self._lock:
            if signature != self._signature:
                try:
                    self._current = load_rule_set(self._directory)
                    self._last_error = None
                except RuleFileError as exc:
                    self._last_error = exc
                self._signature = signature
            if self._current is None:
                raise self._last_error or RuleFileError([f"{self._directory}: no rules loaded"])
            return self._current
