"""Telling a store: the Shopify Admin REST and WooCommerce REST calls of one feedback row.

Shopify (Admin API 2024-10, `X-Shopify-Access-Token`): a shipment reads the order's line items
and its fulfillment orders, then `POST /fulfillments.json` with
`line_items_by_fulfillment_order` (the shipment's quantities) and `tracking_info` (number, url,
company); nothing left to fulfil for it counts as done (told before an answer was recorded). A
cancellation is `POST /orders/{id}/cancel.json`. A 422 whose reason the store shows on a second
read (the fulfillment order closed or cancelled meanwhile, the order cancelled already) is done:
the store had it, it is never sent again and the order page says so. WooCommerce
(`/wp-json/wc/v3`, HTTP Basic with the consumer key and secret): a shipment adds a customer
note with the tracking (unless the order's notes hold it already) and, the order's last one,
sets it `completed`; a cancellation sets it `cancelled`. A refund decided in Conveyor (a
return's) is, at Shopify, `POST /orders/{id}/refunds/calculate.json` for the returned line items
(`no_restock`: Conveyor keeps the stock) and then `POST /orders/{id}/refunds.json` with those
items and `refund` transactions against the calculated parents for the amount, its note naming
the row's key; at WooCommerce `POST /orders/{id}/refunds` with `amount`, `reason`,
`api_refund: true` (the store's gateway pays it back), `api_restock: false` and the key in
`meta_data`. A retry first lists the order's refunds and sends none whose key is there. Every
request carries the row's key as
`Idempotency-Key` and `X-Request-Id`.
"""

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from conveyor.storefeedback.models import FeedbackAction
from conveyor.webhook.connections import StoreConnection

SHOPIFY_API = "/admin/api/2024-10"
WOOCOMMERCE_API = "/wp-json/wc/v3"
MAX_ERROR_BODY = 300  # of a refusal's answer, kept on the row (and said on the order page)


@dataclass(frozen=True)
class Feedback:
    """One claimed row, read out of its session: what to tell which store."""

    id: int
    key: str
    store: str  # the connection's name in the secrets file
    provider: str
    external_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Answer:
    status_code: int | None  # the store's last HTTP status (None: no answer)
    error: str | None = None  # None: the store has it
    already: str | None = None  # the store refused it as done already (its answer)


class Refused(Exception):
    """A call answered with something else than 2xx (or did not answer)."""

    def __init__(self, status_code: int | None, error: str) -> None:
        super().__init__(error)
        self.status_code = status_code


class AlreadyDone(Refused):
    """The store refused (422) what it has already: fulfilled or cancelled there."""


UNPROCESSABLE = 422


async def tell(
    client: httpx.AsyncClient, store: StoreConnection | None, feedback: Feedback, timeout: float
) -> Answer:
    """Send one row to its store; the answer says whether the store has it now."""
    if store is None or not store.api_url:
        return Answer(None, "the store has no api_url in the webhook secrets file")
    try:
        async with asyncio.timeout(timeout):
            if feedback.provider == "shopify":
                status_code = await _shopify(client, store, feedback)
            else:
                status_code = await _woocommerce(client, store, feedback)
    except AlreadyDone as exc:
        return Answer(exc.status_code, already=str(exc))
    except Refused as exc:
        return Answer(exc.status_code, str(exc))
    except (httpx.HTTPError, TimeoutError) as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    return Answer(status_code)


async def _call(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    auth: httpx.BasicAuth | None = None,
    json: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    response = await client.request(
        method, url, headers=headers, auth=auth, json=json, params=params
    )
    if not 200 <= response.status_code < 300:
        text = response.text[:MAX_ERROR_BODY]
        error = f"HTTP {response.status_code}: {text}" if text else f"HTTP {response.status_code}"
        raise Refused(response.status_code, error)
    return response


def _headers(feedback: Feedback) -> dict[str, str]:
    return {
        "Accept": "application/json",
        "User-Agent": "Conveyor-Store-Feedback/1",
        "Idempotency-Key": feedback.key,
        "X-Request-Id": feedback.key,
    }


async def _shopify(client: httpx.AsyncClient, store: StoreConnection, feedback: Feedback) -> int:
    base = f"{(store.api_url or '').rstrip('/')}{SHOPIFY_API}"
    token = store.api_token.get_secret_value() if store.api_token else ""
    headers = _headers(feedback) | {"X-Shopify-Access-Token": token}
    order = feedback.external_id
    if feedback.action == FeedbackAction.REFUND:
        return await _shopify_refund(client, base, headers, feedback)
    if feedback.action == FeedbackAction.CANCEL:
        url = f"{base}/orders/{order}/cancel.json"
        try:
            response = await _call(
                client, "POST", url, headers=headers, json={"reason": "other", "email": False}
            )
        except Refused as exc:
            if exc.status_code != UNPROCESSABLE:
                raise
            now = await _call(
                client,
                "GET",
                f"{base}/orders/{order}.json",
                headers=headers,
                params={"fields": "id,cancelled_at,fulfillment_status"},
            )
            there = now.json().get("order") or {}
            if there.get("cancelled_at") or there.get("fulfillment_status") == "fulfilled":
                raise AlreadyDone(exc.status_code, str(exc)) from exc
            raise
        return response.status_code
    sku_of = await _skus(client, base, order, headers)
    listed = await _call(
        client, "GET", f"{base}/orders/{order}/fulfillment_orders.json", headers=headers
    )
    groups = _allocate(feedback.payload.get("lines") or [], listed.json(), sku_of)
    if not groups:  # nothing of it left to fulfil: the store has it already
        return listed.status_code
    payload = feedback.payload
    fulfillment = {
        "line_items_by_fulfillment_order": groups,
        "tracking_info": {
            "number": payload.get("tracking"),
            "url": payload.get("tracking_url"),
            "company": payload.get("carrier"),
        },
        "notify_customer": False,  # Conveyor mails the customer itself
    }
    try:
        response = await _call(
            client,
            "POST",
            f"{base}/fulfillments.json",
            headers=headers,
            json={"fulfillment": fulfillment},
        )
    except Refused as exc:
        if exc.status_code != UNPROCESSABLE:
            raise
        # Closed or cancelled at the store since it was read: nothing of it is left to fulfil.
        again = await _call(
            client, "GET", f"{base}/orders/{order}/fulfillment_orders.json", headers=headers
        )
        if not _allocate(payload.get("lines") or [], again.json(), sku_of):
            raise AlreadyDone(exc.status_code, str(exc)) from exc
        raise
    return response.status_code


async def _skus(
    client: httpx.AsyncClient, base: str, order: str, headers: dict[str, str]
) -> dict[str, str]:
    """The Shopify order's SKU per line item id."""
    placed = await _call(
        client,
        "GET",
        f"{base}/orders/{order}.json",
        headers=headers,
        params={"fields": "id,line_items"},
    )
    return {
        str(item.get("id")): item.get("sku") or ""
        for item in (placed.json().get("order") or {}).get("line_items") or []
    }


async def _shopify_refund(
    client: httpx.AsyncClient, base: str, headers: dict[str, str], feedback: Feedback
) -> int:
    order, payload = feedback.external_id, feedback.payload
    listed = await _call(client, "GET", f"{base}/orders/{order}/refunds.json", headers=headers)
    if any(feedback.key in (r.get("note") or "") for r in listed.json().get("refunds") or []):
        return listed.status_code  # refunded before an answer was recorded
    item_of = {sku: item for item, sku in (await _skus(client, base, order, headers)).items()}
    items = [
        {"line_item_id": int(item_of[line["sku"]]), "quantity": line["qty"]}
        | {"restock_type": "no_restock"}
        for line in payload.get("lines") or []
        if line.get("sku") in item_of
    ]
    calculated = await _call(
        client,
        "POST",
        f"{base}/orders/{order}/refunds/calculate.json",
        headers=headers,
        json={"refund": {"currency": payload["currency"], "refund_line_items": items}},
    )
    left = Decimal(payload["amount"])
    transactions = []
    for suggested in (calculated.json().get("refund") or {}).get("transactions") or []:
        take = min(left, Decimal(str(suggested.get("maximum_refundable") or "0")))
        if take > 0:
            left -= take
            transactions.append(
                {
                    "parent_id": suggested.get("parent_id"),
                    "amount": f"{take:.2f}",
                    "kind": "refund",
                    "gateway": suggested.get("gateway"),
                }
            )
    refund = {
        "currency": payload["currency"],
        "notify": False,  # Conveyor mails the customer itself
        "note": f"{payload.get('reason')} ({feedback.key})",
        "refund_line_items": items,
        "transactions": transactions,
    }
    response = await _call(
        client,
        "POST",
        f"{base}/orders/{order}/refunds.json",
        headers=headers,
        json={"refund": refund},
    )
    return response.status_code


def _allocate(
    lines: list[dict[str, Any]], listed: dict[str, Any], sku_of: dict[str, str]
) -> list[dict[str, Any]]:
    """The shipment's quantities per SKU spread over the open fulfillment orders' line items."""
    wanted: dict[str, int] = defaultdict(int)
    for line in lines:
        wanted[str(line.get("sku"))] += int(line.get("qty") or 0)
    groups = []
    for fo in listed.get("fulfillment_orders") or []:
        if fo.get("status") not in ("open", "in_progress"):
            continue
        items = []
        for item in fo.get("line_items") or []:
            sku = sku_of.get(str(item.get("line_item_id")), "")
            take = min(wanted[sku], int(item.get("fulfillable_quantity") or 0))
            if take > 0:
                wanted[sku] -= take
                items.append({"id": item.get("id"), "quantity": take})
        if items:
            groups.append(
                {"fulfillment_order_id": fo.get("id"), "fulfillment_order_line_items": items}
            )
    return groups


async def _woocommerce(
    client: httpx.AsyncClient, store: StoreConnection, feedback: Feedback
) -> int:
    base = f"{(store.api_url or '').rstrip('/')}{WOOCOMMERCE_API}/orders/{feedback.external_id}"
    key = store.consumer_key.get_secret_value() if store.consumer_key else ""
    secret = store.consumer_secret.get_secret_value() if store.consumer_secret else ""
    auth = httpx.BasicAuth(key, secret)
    headers = _headers(feedback)
    if feedback.action == FeedbackAction.REFUND:
        refunds = await _call(client, "GET", f"{base}/refunds", headers=headers, auth=auth)
        marker = {"key": "conveyor_key", "value": feedback.key}
        if any(
            isinstance(r, dict) and any(_same(m, marker) for m in r.get("meta_data") or [])
            for r in refunds.json()
        ):
            return refunds.status_code  # refunded before an answer was recorded
        refund = {
            "amount": feedback.payload["amount"],
            "reason": feedback.payload.get("reason") or "",
            "api_refund": True,  # the store's payment gateway pays the customer back
            "api_restock": False,  # Conveyor keeps the stock
            "meta_data": [marker],
        }
        response = await _call(
            client, "POST", f"{base}/refunds", headers=headers, auth=auth, json=refund
        )
        return response.status_code
    if feedback.action == FeedbackAction.CANCEL:
        response = await _call(
            client, "PUT", base, headers=headers, auth=auth, json={"status": "cancelled"}
        )
        return response.status_code
    if feedback.payload.get("complete", True):  # a partial order's last shipment completes it
        await _call(client, "PUT", base, headers=headers, auth=auth, json={"status": "completed"})
    text = note(feedback.payload)
    notes = await _call(client, "GET", f"{base}/notes", headers=headers, auth=auth)
    if any(isinstance(n, dict) and n.get("note") == text for n in notes.json()):
        return notes.status_code  # added before an answer was recorded
    response = await _call(
        client,
        "POST",
        f"{base}/notes",
        headers=headers,
        auth=auth,
        json={"note": text, "customer_note": True},
    )
    return response.status_code


def _same(meta: Any, marker: dict[str, str]) -> bool:
    return isinstance(meta, dict) and all(meta.get(k) == v for k, v in marker.items())


def note(payload: dict[str, Any]) -> str:
    """The customer note of a shipment: carrier, tracking number and link."""
    what = f"Shipment {payload.get('shipment')} of order {payload.get('order_number')} shipped"
    carrier = f" with {payload['carrier']}" if payload.get("carrier") else ""
    tracking = f", tracking {payload['tracking']}" if payload.get("tracking") else ""
    link = f": {payload['tracking_url']}" if payload.get("tracking_url") else ""
    return f"{what}{carrier}{tracking}{link}."
