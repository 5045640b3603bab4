"""Editing prices, taxes, shipping and warehouses through the API: PATCH, end, retire, refusals."""

import uuid
from datetime import timedelta
from decimal import Decimal

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from conveyor.audit.models import AuditEntry
from conveyor.core.models import utcnow
from tests.utils.api import auth, create_customer, create_employee, create_product


async def _created(api: httpx.AsyncClient, path: str, body: dict) -> dict:
    response = await api.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _actions(engine: Engine, entity: str, entity_id: str) -> list[str]:
    with Session(engine) as session:
        rows = session.exec(
            select(AuditEntry)
            .where(AuditEntry.entity == entity)
            .where(AuditEntry.entity_id == entity_id)
            .order_by(AuditEntry.id)  # type: ignore[arg-type]
        ).all()
        return [r.action for r in rows]


async def test_price_agreement_patch_end_and_refusals(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    product = await create_product(api, price="20.00")
    customer = await create_customer(api, group="gold")
    body = {
        "name": "Gold",
        "sku": product["sku"],
        "customer_id": customer["id"],
        "unit_price": "18.00",
    }
    agreement = await _created(api, "/api/price-agreements", body)
    url = f"/api/price-agreements/{agreement['id']}"

    changed = await api.patch(url, json={"unit_price": "17.50", "name": "Gold 2027"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["unit_price"] == "17.50" and changed.json()["name"] == "Gold 2027"
    with Session(engine) as session:
        entry = session.exec(
            select(AuditEntry).where(AuditEntry.action == "price_agreement.update")
        ).one()
        assert entry.before == {"name": "Gold", "unit_price": "18.00"}
        assert entry.after == {"name": "Gold 2027", "unit_price": "17.50"}

    # Validated as a create is: one price rule, dates in order, a real customer.
    two_rules = await api.patch(url, json={"discount_percent": "5"})
    assert two_rules.status_code == 422 and "exactly one" in two_rules.json()["detail"]
    inverted = await api.patch(url, json={"valid_from": "2027-02-01", "valid_to": "2027-01-01"})
    assert inverted.status_code == 422 and "before valid_from" in inverted.json()["detail"]
    assert (await api.patch(url, json={"customer_id": 999999})).status_code == 422
    assert (await api.patch(url, json={"priority": 5000})).status_code == 422
    assert (await api.patch("/api/price-agreements/999999", json={})).status_code == 404

    # An alike agreement over the same days is refused, created or edited into it.
    alike = body | {"name": "Gold copy", "valid_from": "2030-01-01"}
    overlap = await api.post("/api/price-agreements", json=alike)
    assert overlap.status_code == 409 and f"agreement {agreement['id']}" in overlap.text
    other = await _created(api, "/api/price-agreements", alike | {"priority": 1})
    into = await api.patch(f"/api/price-agreements/{other['id']}", json={"priority": 0})
    assert into.status_code == 409

    sales = await create_employee(api, ["sales"], clearance=3)
    assert (await api.patch(url, json={"name": "x"}, headers=auth(sales))).status_code == 403
    assert (await api.post(f"{url}/end", headers=auth(sales))).status_code == 403

    # Ending: not before it starts, then the last day it applies; never later than it ends.
    starts = await api.patch(url, json={"valid_from": "2026-06-01"})
    assert starts.status_code == 200, starts.text
    early = await api.post(f"{url}/end", json={"valid_to": "2026-05-31"})
    assert early.status_code == 422 and "before the agreement starts" in early.text
    yesterday = (utcnow().date() - timedelta(days=1)).isoformat()
    ended = await api.post(f"{url}/end", json={"valid_to": yesterday})
    assert ended.status_code == 200 and ended.json()["valid_to"] == yesterday
    again = await api.post(f"{url}/end", json={})
    assert again.status_code == 409 and "already ends" in again.text
    # Ended agreements stay listed (orders name them), with those not started yet, apart from
    # those in force.
    listed = await api.get(
        "/api/price-agreements", params={"in_force": "false", "sku": product["sku"]}
    )
    assert sorted(a["id"] for a in listed.json()["data"]) == [agreement["id"], other["id"]]
    in_force = await api.get(
        "/api/price-agreements", params={"in_force": "true", "sku": product["sku"]}
    )
    assert in_force.json()["count"] == 0
    by_group = await api.get("/api/price-agreements", params={"customer_group": "nobody"})
    assert by_group.json()["count"] == 0
    assert _actions(engine, "price_agreement", str(agreement["id"])) == [
        "price_agreement.create",
        "price_agreement.update",
        "price_agreement.update",
        "price_agreement.end",
    ]


async def test_tax_and_shipping_rates_patch_and_retire(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    tax = await _created(
        api, "/api/tax-rates", {"tax_class": "books", "country": "DE", "rate": "7"}
    )
    url = f"/api/tax-rates/{tax['id']}"
    changed = await api.patch(url, json={"rate": "5", "name": "reduced"})
    assert changed.status_code == 200 and Decimal(changed.json()["rate"]) == 5
    assert (await api.patch(url, json={"country": "Germany"})).status_code == 422
    assert (await api.patch(url, json={"rate": "101"})).status_code == 422
    clerk = await create_employee(api, ["order_desk"], clearance=3)
    assert (await api.patch(url, json={"rate": "6"}, headers=auth(clerk))).status_code == 403
    assert (await api.post(f"{url}/retire", headers=auth(clerk))).status_code == 403
    retired = await api.post(f"{url}/retire")
    assert retired.status_code == 200 and retired.json()["retired_at"]
    assert (await api.post(f"{url}/retire")).status_code == 409
    assert (await api.patch(url, json={"rate": "6"})).status_code == 409
    in_force = (await api.get("/api/tax-rates", params={"retired": "false"})).json()
    assert tax["id"] not in [r["id"] for r in in_force]
    assert _actions(engine, "tax_rate", str(tax["id"])) == [
        "tax_rate.create",
        "tax_rate.update",
        "tax_rate.retire",
    ]

    ship = await _created(api, "/api/shipping-rates", {"country": "FR", "amount": "5.00"})
    surl = f"/api/shipping-rates/{ship['id']}"
    moved = await api.patch(surl, json={"amount": "6.50", "free_from": "100"})
    assert moved.status_code == 200 and moved.json()["amount"] == "6.50"
    assert (await api.patch(surl, json={"currency": "euro"})).status_code == 422
    assert (await api.patch(surl, json={"amount": "-1"})).status_code == 422
    assert (await api.patch("/api/shipping-rates/999999", json={})).status_code == 404
    assert (await api.post(f"{surl}/retire")).status_code == 200
    retired_list = (await api.get("/api/shipping-rates", params={"retired": "true"})).json()
    assert [r["id"] for r in retired_list] == [ship["id"]]


async def test_warehouse_patch_and_retire_refusals(api: httpx.AsyncClient, engine: Engine) -> None:
    code = f"W{uuid.uuid4().hex[:6].upper()}"
    await _created(api, "/api/warehouses", {"code": code, "name": "West"})
    url = f"/api/warehouses/{code.lower()}"
    body = {"name": "West hub", "address": "1 Dock Road\nPortsmouth", "staging_location": "ST-1"}
    changed = await api.patch(url, json=body)
    assert changed.status_code == 200, changed.text
    assert {k: changed.json()[k] for k in body} == body
    assert (await api.patch(url, json={"staging_location": "no spaces"})).status_code == 422
    assert (await api.patch(url, json={"address": "x" * 501})).status_code == 422
    assert (await api.patch("/api/warehouses/NOPE", json={})).status_code == 404
    clerk = await create_employee(api, ["warehouse"], clearance=3)
    assert (await api.patch(url, json={"name": "x"}, headers=auth(clerk))).status_code == 403
    assert (await api.post(f"{url}/retire", headers=auth(clerk))).status_code == 403

    product = await create_product(api, on_hand=0)
    received = await api.post(
        f"/api/inventory/{product['sku']}/receive", json={"qty": 3, "warehouse": code}
    )
    assert received.status_code == 200, received.text
    refused = await api.post(f"{url}/retire")
    assert refused.status_code == 409
    assert "still holds stock" in refused.json()["detail"] and product["sku"] in refused.text
    default = await api.post("/api/warehouses/MAIN/retire")
    assert default.status_code == 409 and "default warehouse" in default.text

    empty = f"E{uuid.uuid4().hex[:6].upper()}"
    await _created(api, "/api/warehouses", {"code": empty})
    retired = await api.post(f"/api/warehouses/{empty}/retire")
    assert retired.status_code == 200 and retired.json()["retired_at"]
    assert (await api.post(f"/api/warehouses/{empty}/retire")).status_code == 409
    assert (await api.patch(f"/api/warehouses/{empty}", json={"name": "x"})).status_code == 409
    assert _actions(engine, "warehouse", code) == ["warehouse.create", "warehouse.update"]
    assert _actions(engine, "warehouse", empty) == ["warehouse.create", "warehouse.retire"]
