"""JSON log lines: one object per line, UTC time, and the order inside an order's activities."""

import dataclasses
import io
import json
import logging
import sys
from datetime import datetime

from temporalio.testing import ActivityEnvironment

from conveyor.core.logs import JsonFormatter, configure_logging, current_request


def _capturing(name: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, stream


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_inside_an_order_activity_names_the_order() -> None:
    logger, stream = _capturing("tests.logs.activity")
    environment = ActivityEnvironment()
    environment.info = dataclasses.replace(environment.info, workflow_id="order-SO-000042")

    def step() -> None:
        logger.info("allocated %d units", 3)
        try:
            raise ValueError("bin empty")
        except ValueError:
            logger.exception("pick failed\nsecond line")

    environment.run(step)
    logger.info("outside any activity")

    first, failed, outside = _lines(stream)
    assert first["message"] == "allocated 3 units"
    assert (first["level"], first["logger"]) == ("INFO", "tests.logs.activity")
    assert first["order_number"] == "SO-000042" and first["workflow_id"] == "order-SO-000042"
    assert datetime.fromisoformat(first["time"]).utcoffset().total_seconds() == 0
    assert failed["level"] == "ERROR" and "ValueError: bin empty" in failed["exception"]
    assert failed["message"] == "pick failed\nsecond line"  # one line of output all the same
    assert len(stream.getvalue().splitlines()) == 3
    assert "order_number" not in outside and "workflow_id" not in outside


def test_a_workflow_that_is_no_order_has_its_id_only() -> None:
    logger, stream = _capturing("tests.logs.dispatcher")
    environment = ActivityEnvironment()
    environment.info = dataclasses.replace(environment.info, workflow_id="outbox-conveyor")
    environment.run(lambda: logger.warning("relay refused"))
    (line,) = _lines(stream)
    assert line["workflow_id"] == "outbox-conveyor" and "order_number" not in line


def test_a_request_line_names_method_and_path() -> None:
    logger, stream = _capturing("tests.logs.request")
    token = current_request.set(("POST", "/api/orders"))
    try:
        logger.info("order placed")
    finally:
        current_request.reset(token)
    (line,) = _lines(stream)
    assert (line["method"], line["path"]) == ("POST", "/api/orders")


def test_the_log_handler_follows_stderr_when_it_is_swapped(monkeypatch) -> None:
    """A process that swaps stderr (a test runner, a daemon) keeps logging to the current one,
    never to a stream closed since."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        first, second = io.StringIO(), io.StringIO()
        monkeypatch.setattr(sys, "stderr", first)
        configure_logging("json")
        logging.getLogger("conveyor.test").info("one")
        first.close()
        monkeypatch.setattr(sys, "stderr", second)
        logging.getLogger("conveyor.test").info("two")
        assert json.loads(second.getvalue())["message"] == "two"
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
