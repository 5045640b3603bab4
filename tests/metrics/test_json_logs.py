"""JSON logs of a real order: every line an object, the activities' lines naming the order.

SQLAlchemy logs each statement at INFO: the worker's activities write the order, so their
lines are logged inside the activity context, and the API's inside its requests.
"""

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from conveyor.core.logs import JsonFormatter
from tests.utils.api import create_customer, create_product, place_order, wait_for_order


@pytest.fixture
def statement_lines() -> Iterator[io.StringIO]:
    """SQLAlchemy's statement log, formatted as JSON lines, while the test runs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("sqlalchemy.engine.Engine")
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


async def test_an_order_s_lines_carry_its_number_and_workflow_id(
    statement_lines: io.StringIO, api: httpx.AsyncClient, worker
) -> None:
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)], prepaid=True)
    number = order["number"]
    await wait_for_order(api, number, lambda o: o["status"] == "completed")

    lines = [json.loads(raw) for raw in statement_lines.getvalue().splitlines()]
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    of_order = [line for line in lines if line.get("order_number") == number]
    assert of_order, "no line logged inside the order's activities"
    assert {line["workflow_id"] for line in of_order} == {f"order-{number}"}
    placing = [line for line in lines if line.get("path") == "/api/orders"]
    assert placing and {line["method"] for line in placing} == {"POST"}
    assert not [line for line in placing if "order_number" in line]
