"""Settings > Webhooks without a browser: add (secret once), edit, log and replay, deactivate."""

import re

import httpx

from tests.conftest import ADMIN_TOKEN
from tests.utils.api import create_customer, create_employee, create_product, place_order
from tests.utils.pages import staff_client

SECRET = re.compile(r'data-testid="webhook-secret">(whsec_[0-9a-f]+)<')


async def test_an_admin_manages_webhooks_on_the_settings_page(api: httpx.AsyncClient) -> None:
    admin = await staff_client(api, ADMIN_TOKEN)
    home = await admin.get("/settings")
    assert 'href="/settings/webhooks"' in home.text
    assert (await admin.get("/settings/webhooks/new")).status_code == 200
    form = {"url": "https://erp.example.com/in", "description": "ERP", "event_order.created": "on"}
    bad = await admin.post("/settings/webhooks", form | {"url": "ftp://erp.example.com/in"})
    assert bad.status_code == 422 and 'data-field="url"' in bad.text and "has-error" in bad.text
    none = await admin.post("/settings/webhooks", {"url": form["url"]})
    assert none.status_code == 422 and 'data-field="events"' in none.text
    made = await admin.post("/settings/webhooks", form)
    assert made.status_code == 200, made.text
    assert made.headers["cache-control"] == "no-store"
    secret = SECRET.search(made.text)
    assert secret, made.text
    assert "def verify(secret: str, body: bytes, header: str" in made.text
    subscription = (await api.get("/api/webhook-subscriptions")).json()["data"][0]
    url = f"/settings/webhooks/{subscription['id']}"
    shown = await admin.get(url)
    assert secret.group(1) not in shown.text  # shown once
    listed = await admin.get("/settings/webhooks")
    assert "https://erp.example.com/in" in listed.text and 'data-testid="webhook"' in listed.text

    edited = await admin.post(
        url, form | {"event_order.cancelled": "on", "active": "on", "description": "ERP 2"}
    )
    assert edited.status_code == 303, edited.text
    after = (await api.get(f"/api/webhook-subscriptions/{subscription['id']}")).json()
    assert after["events"] == ["order.created", "order.cancelled"]
    assert after["description"] == "ERP 2" and after["active"] is True

    # An order placed now is in its log, waiting (no worker runs here); replay queues it again.
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)])
    log = await admin.get(url)
    assert 'data-testid="delivery"' in log.text and "order.created" in log.text
    delivery = (await api.get(f"/api/webhook-subscriptions/{subscription['id']}/deliveries")).json()
    row = delivery["data"][0]
    assert row["event_type"] == "order.created" and row["status"] == "pending"
    replayed = await admin.post(f"{url}/deliveries/{row['id']}/replay")
    assert replayed.status_code == 303
    again = (await api.get(f"/api/webhook-subscriptions/{subscription['id']}/deliveries")).json()
    assert again["data"][0]["replays"] == 1
    assert order["number"]

    rotated = await admin.post(f"{url}/rotate-secret")
    assert rotated.status_code == 200
    new_secret = SECRET.search(rotated.text)
    assert new_secret and new_secret.group(1) != secret.group(1)

    unconfirmed = await admin.post(f"{url}/deactivate")
    assert unconfirmed.status_code == 303 and unconfirmed.headers["location"].endswith(
        "/deactivate"
    )
    confirm = await admin.get(f"{url}/deactivate")
    assert 'data-testid="confirm"' in confirm.text
    off = await admin.post(f"{url}/deactivate", {"confirmed": "yes", "reason": "retired ERP"})
    assert off.status_code == 303
    assert (await api.get(f"/api/webhook-subscriptions/{subscription['id']}")).json()[
        "active"
    ] is False
    history = await admin.get(url)
    assert 'data-testid="inactive"' in history.text
    assert 'data-action="outbound.subscription_deactivate"' in history.text

    supervisor = await create_employee(api, ["supervisor"], clearance=5)
    boss = await staff_client(api, supervisor["token"])
    assert (await boss.get("/settings/webhooks")).status_code == 403
    assert (await boss.get(url)).status_code == 403
    assert (await boss.post("/settings/webhooks", form)).status_code == 403
    assert 'href="/settings/webhooks"' not in (await boss.get("/settings")).text
    await boss.aclose()
    await admin.aclose()
