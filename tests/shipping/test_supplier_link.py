"""A drop-ship supplier confirms its shipment through the signed link of the purchase order's
mail, without an account: the page shows the purchase order's lines, the form (carrier,
tracking, shipped date) confirms it once through the staff API's flow, audited with the
supplier as actor; the order moves on with the supplier's tracking on its shipment. A reused
link says "already confirmed" and changes nothing; a forged, expired or borrowed token gets
the 403 page."""

import asyncio
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from conveyor.audit.models import AuditEntry
from conveyor.core.db import session_scope
from conveyor.core.models import utcnow
from conveyor.core.settings import Settings
from conveyor.purchasing import links
from tests.conftest import RULES, Mailbox
from tests.utils.api import (
    create_customer,
    create_product,
    place_order,
    wait_for_open_task,
    wait_for_order,
)
from tests.utils.pages import CSRF, PageClient

SUPPLIER = "po-link@supplier.example"
LINK = re.compile(r"(https?://\S+/supplier/purchase-orders/\S+\?token=\S+)")


@pytest.fixture
def rules_dir() -> Path:
    """Packing is a task; delivery waits for each shipment."""
    return RULES / "delivery"


async def _purchase_order_mail(mailbox: Mailbox) -> str:
    for _ in range(300):
        found = [m for m in mailbox.to(SUPPLIER) if "purchase order" in m["Subject"].lower()]
        if found:
            return found[0].get_body(preferencelist=("plain",)).get_content()
        await asyncio.sleep(0.1)
    raise AssertionError(f"no purchase order mail; got {[m['Subject'] for m in mailbox.messages]}")


async def _drop_ship_order(api: httpx.AsyncClient) -> tuple[str, dict]:
    desk = await create_product(
        api, on_hand=0, price="80.00", drop_ship=True, supplier_email=SUPPLIER
    )
    customer = await create_customer(api)
    ship_to = {"name": "Site office", "line1": "4 Quay Road", "city": "Leith", "country": "GB"}
    ship_to |= {"postcode": "EH6 7AB"}
    order = await place_order(
        api, customer["id"], [(desk["sku"], 2)], prepaid=True, ship_to=ship_to
    )
    number = order["number"]
    packing = await wait_for_open_task(api, number, "packing")  # nothing of ours to pack
    assert (await api.post(f"/api/tasks/{packing['id']}/complete", json={})).status_code == 200
    await wait_for_order(api, number, lambda o: o["current_step"] == "invoicing")
    return number, desk


async def test_supplier_confirms_with_tracking_through_the_mailed_link_once(
    api: httpx.AsyncClient, worker, mailbox: Mailbox, engine: Engine, settings: Settings
) -> None:
    number, desk = await _drop_ship_order(api)
    (purchase,) = (await api.get("/api/purchase-orders", params={"order": number})).json()
    text = await _purchase_order_mail(mailbox)
    assert "Ship to: Site office, 4 Quay Road, EH6 7AB Leith, GB" in text, text
    found = LINK.search(text)
    assert found is not None, text
    link = urlsplit(found.group(1))
    assert link.path == f"/supplier/purchase-orders/{purchase['number']}"
    url = f"{link.path}?{link.query}"

    supplier = PageClient(api)  # no account, no sign-in
    page = await supplier.get(url)
    assert page.status_code == 200, page.text
    assert desk["sku"] in page.text and "Confirm the shipment" in page.text
    supplier.csrf = CSRF.search(page.text).group(1)
    token = link.query.removeprefix("token=")
    form = {"token": token, "carrier": "DHL", "tracking": "SUP-777", "shipped_on": ""}

    # No CSRF token: refused, nothing recorded.
    bare = await supplier.http.post(link.path, data={**form, "shipped_on": "2026-01-01"})
    assert bare.status_code == 403
    future = (utcnow() + timedelta(days=3)).date().isoformat()
    ahead = await supplier.post(link.path, {**form, "shipped_on": future})
    assert ahead.status_code == 422 and "future" in ahead.text

    yesterday = (utcnow() - timedelta(days=1)).date()
    done = await supplier.post(link.path, {**form, "shipped_on": yesterday.isoformat()})
    assert done.status_code == 303, done.text
    after = await supplier.get(done.headers["location"])
    assert "already confirmed" in after.text and "SUP-777" in after.text

    await wait_for_order(api, number, lambda o: o["current_step"] == "delivery")
    (shipment,) = (await api.get(f"/api/orders/{number}/shipments")).json()
    assert (shipment["status"], shipment["tracking"], shipment["carrier"]) == (
        "shipped",
        "SUP-777",
        "DHL",
    )
    assert shipment["purchase_order_number"] == purchase["number"]
    assert shipment["shipped_at"].startswith(yesterday.isoformat())
    assert shipment["lines"] == [{"sku": desk["sku"], "name": desk["name"], "qty": 2}]
    (confirmed,) = (await api.get("/api/purchase-orders", params={"order": number})).json()
    assert (confirmed["status"], confirmed["tracking"]) == ("shipped", "SUP-777")

    # The link again (a second tab, a colleague): "already confirmed", nothing changes.
    again = await supplier.post(link.path, {**form, "tracking": "OTHER-1", "shipped_on": ""})
    assert again.status_code == 409
    assert "already confirmed" in again.text and "Confirm the shipment" not in again.text
    (shipment,) = (await api.get(f"/api/orders/{number}/shipments")).json()
    assert shipment["tracking"] == "SUP-777"
    with session_scope(engine) as session:
        audited = session.exec(
            select(AuditEntry)
            .where(AuditEntry.action == "purchase_order.shipped")
            .where(AuditEntry.entity_id == purchase["number"])
            .order_by(col(AuditEntry.id))
        ).all()
    assert [(a.actor, a.actor_kind, a.source) for a in audited] == [(SUPPLIER, "supplier", "page")]
    assert audited[0].after is not None and audited[0].after["carrier"] == "DHL"
    await supplier.aclose()


async def test_forged_expired_and_borrowed_links_are_refused(
    api: httpx.AsyncClient, worker, mailbox: Mailbox, settings: Settings
) -> None:
    number, _ = await _drop_ship_order(api)
    (purchase,) = (await api.get("/api/purchase-orders", params={"order": number})).json()
    po = purchase["number"]
    path = f"/supplier/purchase-orders/{po}"
    good = links.token(settings, po)
    expiry, _, signature = good.partition(".")
    forged = [
        "",
        "nonsense",
        f"{expiry}.{'0' * len(signature)}",
        f"{int(expiry) + 86400}.{signature}",  # a longer life under the same signature
        links.token(settings, po, now=utcnow() - timedelta(days=31)),  # expired
        links.token(settings, "PO-999999"),  # another purchase order's link
        links.token(settings.model_copy(update={"session_secret": SecretStr("x" * 32)}), po),
    ]
    supplier = PageClient(api)
    page = await supplier.get(f"{path}?token={good}")
    assert page.status_code == 200
    supplier.csrf = CSRF.search(page.text).group(1)
    for token in forged:
        shown = await supplier.get(path, params={"token": token})
        assert shown.status_code == 403, token
        assert "not valid or has expired" in shown.text
        posted = await supplier.post(
            path, {"token": token, "carrier": "DHL", "tracking": "X-1", "shipped_on": ""}
        )
        assert posted.status_code == 403, token
    (still,) = (await api.get("/api/purchase-orders", params={"order": number})).json()
    assert (still["status"], still["tracking"]) == ("open", None)
    assert (await api.get(f"/api/orders/{number}/shipments")).json() == []
    await supplier.aclose()
