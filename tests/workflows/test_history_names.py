"""Recorded histories name workflows and activities by type name, never by Python module path.

This is what lets the code move between modules (as it did into `conveyor/` and `workflows/v7/`)
without breaking running orders: the histories replay against whatever module holds the class.
"""

import base64
import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from conveyor.core.settings import Settings
from worker import WORKFLOWS, build_activities

HISTORIES = Path(__file__).resolve().parent / "histories"
MODULE_PATH = re.compile(r"\b(workflows|activities|conveyor|api|routing_rules)\.[a-z_]+")


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _decoded_payloads(history: dict) -> list[str]:
    texts = []
    for key, value in _walk(history):
        if key == "data" and isinstance(value, str):
            texts.append(base64.b64decode(value).decode("utf-8", "replace"))
    return texts


def test_histories_hold_type_names_and_no_module_paths(tmp_path: Path) -> None:
    files = sorted(HISTORIES.rglob("*.json"))
    assert len(files) >= 10
    registered_workflows = {w.__temporal_workflow_definition.name for w in WORKFLOWS}
    settings = Settings(database_url=f"sqlite:///{tmp_path}/x.db", data_dir=tmp_path)
    activities = build_activities(create_engine("sqlite://"), settings)
    registered_activities = {a.__temporal_activity_definition.name for a in activities}
    for path in files:
        history = json.loads(path.read_text())
        names: dict[str, set[str]] = {"workflow": set(), "activity": set()}
        for key, value in _walk(history):
            if key == "workflowType":
                names["workflow"].add(value["name"])
            elif key == "activityType":
                names["activity"].add(value["name"])
        assert names["workflow"] <= registered_workflows, path.name
        assert names["activity"] <= registered_activities, path.name
        payloads = _decoded_payloads(history)
        assert any("order_number" in text for text in payloads), path.name  # decoded for real
        for text in [path.read_text(), *payloads]:
            assert not MODULE_PATH.search(text), (path.name, MODULE_PATH.search(text))
