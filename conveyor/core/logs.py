"""Log output: text as ever, or one JSON object per line (`CONVEYOR_LOG_FORMAT=json`).

A JSON line carries time (UTC ISO 8601), level, logger and message; inside an activity or a
workflow of an order also its workflow id and order number (the workflow id is
`order-<number>`), and inside an API request its method and path (set by api/metrics.py).
"""

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from temporalio import activity, workflow

ORDER_WORKFLOW_PREFIX = "order-"
# The HTTP request being handled (method, path), set around each request by the API.
current_request: ContextVar[tuple[str, str] | None] = ContextVar("current_request", default=None)


def _workflow_id(record: logging.LogRecord) -> str | None:
    """The workflow the record was logged in: an activity's or the workflow's own."""
    try:
        if activity.in_activity():
            return activity.info().workflow_id
        if workflow.in_workflow():
            return workflow.info().workflow_id
    except RuntimeError:  # neither after all (a thread without the context)
        pass
    # workflow.logger and activity.logger attach their context as an extra.
    for extra in ("temporal_activity", "temporal_workflow"):
        context = getattr(record, extra, None)
        if isinstance(context, dict) and context.get("workflow_id"):
            return str(context["workflow_id"])
    return None


def context_fields(record: logging.LogRecord) -> dict[str, str]:
    """The workflow id, order number and request of a record, those that apply."""
    fields: dict[str, str] = {}
    workflow_id = _workflow_id(record)
    if workflow_id:
        fields["workflow_id"] = workflow_id
        if workflow_id.startswith(ORDER_WORKFLOW_PREFIX):
            fields["order_number"] = workflow_id[len(ORDER_WORKFLOW_PREFIX) :]
    request = current_request.get()
    if request is not None:
        fields["method"], fields["path"] = request
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **context_fields(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record comes (never to a stream closed since:
    a process that swaps stderr, as test runners do, keeps logging)."""

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        """The base class sets it; the property always answers the current stderr."""


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    """Send the root logger's records to stderr as text or JSON (uvicorn's loggers included)."""
    handler = StderrHandler()
    json_lines = log_format == "json"
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    if json_lines:
        # uvicorn's own handlers would print text beside ours: its records go to the root.
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            uvicorn_logger = logging.getLogger(name)
            uvicorn_logger.handlers[:] = []
            uvicorn_logger.propagate = True
