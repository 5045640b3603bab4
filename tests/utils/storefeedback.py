"""Store feedback test helpers: store orders placed through the webhooks, the feedback rows
read and waited on, a lost commit played out."""

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from conveyor.core.db import session_scope
from conveyor.storefeedback.models import StoreFeedback
from tests.storefeedback.conftest import SHOPIFY_ITEMS
from tests.utils.api import create_product
from tests.webhook.conftest import (
    post_shopify,
    post_woocommerce,
    shopify_order,
    woocommerce_order,
)


def open_shopify_order() -> bytes:
    """The Shopify sample order, not cancelled (the sample is oddly cancelled)."""
    order = json.loads(shopify_order())
    order["cancelled_at"] = order["cancel_reason"] = None
    return json.dumps(order).encode()


async def place_shopify_order(api: httpx.AsyncClient) -> str:
    """The sample order's items stocked and the order taken from Shopify: its number."""
    for item in SHOPIFY_ITEMS:
        await create_product(api, sku=item["sku"], on_hand=20)
    placed = await post_shopify(api, open_shopify_order())
    assert placed.status_code == 200, placed.text
    return placed.json()["order_number"]


async def place_woocommerce_order(api: httpx.AsyncClient) -> tuple[str, dict[str, Any]]:
    """The WooCommerce sample order (its items given SKUs and stocked) taken: its number and
    the order as posted."""
    body = json.loads(woocommerce_order())
    for n, item in enumerate(body["line_items"]):
        item["sku"] = item["sku"] or f"WOO-{n}"
        await create_product(api, sku=item["sku"], on_hand=20)
    placed = await post_woocommerce(api, json.dumps(body).encode())
    assert placed.status_code == 200, placed.text
    return placed.json()["order_number"], body


async def until(check: Callable[[], object], what: str, seconds: float = 30.0) -> None:
    """Wait until `check()` holds; AssertionError(`what`) when the time is up."""
    for _ in range(int(seconds / 0.1)):
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(what)


def feedback_rows(engine: Engine) -> list[StoreFeedback]:
    """Every store feedback row, oldest first."""
    with session_scope(engine) as session:
        return list(session.exec(select(StoreFeedback).order_by(col(StoreFeedback.id))).all())


def feedback_row(engine: Engine, key: str) -> StoreFeedback:
    """The store feedback row with `key`."""
    with session_scope(engine) as session:
        return session.exec(select(StoreFeedback).where(StoreFeedback.key == key)).one()


async def until_status(
    engine: Engine, status: str, what: str, *, key: str | None = None, seconds: float = 30.0
) -> None:
    """Wait until the feedback row with `key` (without: the first row) has `status`."""

    def reached() -> bool:
        if key is not None:
            return feedback_row(engine, key).status == status
        rows = feedback_rows(engine)
        return bool(rows) and rows[0].status == status

    await until(reached, what, seconds)


def lose_commit(engine: Engine, key: str | None = None) -> None:
    """As if the worker died after the store's 2xx, before its commit: the row with `key`
    (without: the only row) pending again and never sent."""
    with session_scope(engine) as session:
        query = select(StoreFeedback)
        if key is not None:
            query = query.where(StoreFeedback.key == key)
        lost = session.exec(query).one()
        lost.status, lost.sent_at = "pending", None
        session.add(lost)
