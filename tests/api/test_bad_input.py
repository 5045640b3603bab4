"""Bad input gets a clear 4xx with `detail` and writes nothing."""

import httpx
from sqlalchemy import func
from sqlmodel import Session, select

from conveyor.order.models import SalesOrder
from tests.utils.api import create_customer, create_product


def _order_count(engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(SalesOrder)).one()


async def test_bad_orders_are_refused_and_nothing_is_written(
    api: httpx.AsyncClient, engine
) -> None:
    product = await create_product(api)
    customer = await create_customer(api)
    good_line = {"sku": product["sku"], "qty": 1}
    cases = [
        ({"customer_id": customer["id"], "lines": [{"sku": "NOPE-1", "qty": 1}]}, 422, "NOPE-1"),
        (
            {"customer_id": customer["id"], "lines": [{"sku": product["sku"], "qty": -2}]},
            422,
            "qty",
        ),
        ({"customer_id": customer["id"], "lines": [{"sku": product["sku"], "qty": 0}]}, 422, "qty"),
        ({"customer_id": 999999, "lines": [good_line]}, 422, "unknown customer 999999"),
        ({"customer_id": customer["id"], "lines": []}, 422, "lines"),
        ({"customer_id": customer["id"], "lines": [good_line], "channel": "fax"}, 422, "channel"),
        ({"lines": [good_line]}, 422, "customer_id"),
    ]
    for body, code, needle in cases:
        response = await api.post("/api/orders", json=body)
        assert response.status_code == code, (body, response.text)
        assert needle in str(response.json()["detail"]), (body, response.text)

    malformed = await api.post(
        "/api/orders",
        content=b'{"customer_id": 1, "lines": [',
        headers={"Content-Type": "application/json"},
    )
    assert malformed.status_code == 422
    assert "detail" in malformed.json()
    assert _order_count(engine) == 0


async def test_authentication_and_admin_checks(api: httpx.AsyncClient, engine) -> None:
    for headers in ({"Authorization": "Bearer wrong-token"}, {"Authorization": ""}):
        response = await api.get("/api/orders", headers=headers)
        assert response.status_code == 401
        assert response.json()["detail"] in ("invalid bearer token", "missing bearer token")
    employee = (
        await api.post(
            "/api/employees",
            json={
                "name": "Eve",
                "email": "eve@example.com",
                "roles": ["order_desk"],
            },
        )
    ).json()
    as_eve = {"Authorization": f"Bearer {employee['token']}"}
    forbidden = await api.post(
        "/api/products", json={"name": "Item", "sku": "X-1", "price": "1.00"}, headers=as_eve
    )
    assert forbidden.status_code == 403
    assert (await api.get("/api/orders", headers=as_eve)).status_code == 200


async def test_bad_catalogue_input(api: httpx.AsyncClient) -> None:
    assert (
        await api.post("/api/products", json={"name": "Item", "sku": "A", "price": "-1"})
    ).status_code == 422
    assert (
        await api.post("/api/products", json={"name": "Item", "sku": "bad sku", "price": "1"})
    ).status_code == 422
    assert (
        await api.post("/api/products", json={"name": "Item", "sku": "A", "price": "1.001"})
    ).status_code == 422
    assert (
        await api.post("/api/customers", json={"name": "X", "email": "nope"})
    ).status_code == 422
    await create_product(api, sku="DUP-1")
    dup = await api.post("/api/products", json={"name": "Item", "sku": "DUP-1", "price": "1.00"})
    assert dup.status_code == 409
    assert "DUP-1" in dup.json()["detail"]
    missing = await api.get("/api/inventory/NOPE")
    assert missing.status_code == 404
    assert (await api.post("/api/inventory/NOPE/receive", json={"qty": 1})).status_code == 404
    assert (await api.post("/api/inventory/DUP-1/receive", json={"qty": 0})).status_code == 422
    assert (await api.get("/api/orders/SO-404")).status_code == 404
    assert (await api.get("/api/orders?status=weird")).status_code == 422
