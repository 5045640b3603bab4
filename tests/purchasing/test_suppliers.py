"""Suppliers and their prices over the API: master data, audit, permissions, quantity breaks,
periods, discounts and whom to buy a quantity from."""

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from conveyor.audit.models import AuditEntry
from conveyor.core.db import session_scope
from tests.purchasing.test_purchase_orders import add_price, make_supplier
from tests.utils.api import auth, create_employee, create_product


async def test_supplier_master_data_audited_and_guarded(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    supplier = await make_supplier(
        api, contact_name="Ann", phone="+49 30 1", address="Main St 1", payment_terms_days=14,
        currency="EUR",
    )  # fmt: skip
    code = supplier["code"]
    assert code == code.upper()
    assert (supplier["payment_terms_days"], supplier["currency"], supplier["lead_time_days"]) == (
        14,
        "EUR",
        10,
    )
    taken = await api.post(
        "/api/suppliers", json={"code": code, "name": "Again", "email": "x@example.com"}
    )
    assert taken.status_code == 409
    bad = await api.post(
        "/api/suppliers", json={"code": "OK1", "name": "Bad", "email": "not-an-address"}
    )
    assert bad.status_code == 422
    changed = await api.patch(f"/api/suppliers/{code}", json={"lead_time_days": 21})
    assert changed.status_code == 200 and changed.json()["lead_time_days"] == 21
    wrong = await api.patch(f"/api/suppliers/{code}", json={"currency": "euro"})
    assert wrong.status_code == 422
    assert (await api.get(f"/api/suppliers/{code}")).json()["lead_time_days"] == 21
    assert code in [s["code"] for s in (await api.get("/api/suppliers")).json()["data"]]
    assert (await api.get("/api/suppliers/NOPE")).status_code == 404

    viewer = await create_employee(api, ["warehouse"])
    assert (await api.get("/api/suppliers", headers=auth(viewer))).status_code == 200
    refused = await api.patch(
        f"/api/suppliers/{code}", json={"lead_time_days": 1}, headers=auth(viewer)
    )
    assert refused.status_code == 403 and "purchasing.manage" in refused.json()["detail"]

    with session_scope(engine) as session:
        actions = session.exec(
            select(AuditEntry.action)
            .where(AuditEntry.entity == "supplier")
            .where(AuditEntry.entity_id == code)
            .order_by(col(AuditEntry.id))
        ).all()
    assert actions == ["supplier.create", "supplier.update"]


async def test_prices_breaks_periods_and_the_supplier_to_buy_from(api: httpx.AsyncClient) -> None:
    product = await create_product(api, on_hand=0)
    sku = product["sku"]
    cheap = await make_supplier(api, lead_time_days=20)
    fast = await make_supplier(api, lead_time_days=2)
    today = datetime.now(UTC).date()
    await add_price(api, cheap["code"], sku=sku, min_qty=1, unit_price="5.00")
    await add_price(api, cheap["code"], sku=sku, min_qty=100, unit_price="4.00")
    # Expired, and not yet valid: neither counts today.
    await add_price(
        api, cheap["code"], sku=sku, min_qty=1, unit_price="1.00",
        valid_from=(today - timedelta(days=30)).isoformat(),
        valid_to=(today - timedelta(days=1)).isoformat(),
    )  # fmt: skip
    await add_price(
        api, cheap["code"], sku=sku, min_qty=1, unit_price="1.50",
        valid_from=(today + timedelta(days=1)).isoformat(),
    )  # fmt: skip
    await add_price(api, fast["code"], sku=sku, min_qty=1, unit_price="5.00", discount_percent="4")

    async def best(qty: int) -> dict:
        answer = await api.get("/api/suppliers/best-price", params={"sku": sku, "qty": qty})
        assert answer.status_code == 200, answer.text
        return answer.json()

    small = await best(10)  # 5.00 against 5.00 less 4 % = 4.80
    assert (small["supplier"], small["net_price"]) == (fast["code"], "4.8000")
    large = await best(100)  # the 100+ break: 4.00
    assert (large["supplier"], large["net_price"]) == (cheap["code"], "4.0000")

    # A preferred supplier wins whenever it quotes for the quantity.
    await add_price(api, cheap["code"], sku=sku, min_qty=5, unit_price="4.90", preferred=True)
    assert (await best(10))["supplier"] == cheap["code"]
    assert (await best(3))["supplier"] == fast["code"]  # below its break: not quoting

    duplicate = await api.post(
        f"/api/suppliers/{cheap['code']}/prices", json={"sku": sku, "min_qty": 5, "unit_price": "1"}
    )
    assert duplicate.status_code == 409
    inverted = await api.post(
        f"/api/suppliers/{cheap['code']}/prices",
        json={"sku": sku, "unit_price": "1", "valid_from": "2030-01-02", "valid_to": "2030-01-01"},
    )
    assert inverted.status_code == 422
    unknown = await api.post(
        f"/api/suppliers/{cheap['code']}/prices", json={"sku": "NO-SUCH", "unit_price": "1"}
    )
    assert unknown.status_code == 422

    listed = (await api.get(f"/api/suppliers/{fast['code']}/prices")).json()
    assert [(p["sku"], p["net_price"]) for p in listed] == [(sku, "4.8000")]
    gone = await api.delete(f"/api/suppliers/{fast['code']}/prices/{listed[0]['id']}")
    assert gone.status_code == 204
    assert (await api.get(f"/api/suppliers/{fast['code']}/prices")).json() == []
    nobody = await api.get("/api/suppliers/best-price", params={"sku": "NO-SUCH", "qty": 1})
    assert nobody.status_code == 404
