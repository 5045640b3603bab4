"""Suppliers' item group discounts over the API and the pages: every SKU of the group gets the
discount off its list price, a SKU price's own discount wins, minimum quantities and periods
count, the cheapest supplier is chosen after the discount, and a purchase order created without
unit prices (from the API, the page or a reorder suggestion) takes the discounted price."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from conveyor.audit.models import AuditEntry
from conveyor.core.db import session_scope
from tests.conftest import ADMIN_TOKEN
from tests.purchasing.test_purchase_orders import add_price, make_supplier
from tests.utils.api import auth, create_employee, create_product
from tests.utils.pages import staff_client


def _group() -> str:
    return f"grp-{uuid.uuid4().hex[:8]}"


async def _discount(api: httpx.AsyncClient, code: str, **body: object) -> dict:
    response = await api.post(f"/api/suppliers/{code}/group-discounts", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def _quote(api: httpx.AsyncClient, sku: str, qty: int = 1) -> dict:
    response = await api.get(f"/api/suppliers/best-price?sku={sku}&qty={qty}")
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_group_discount_lowers_every_sku_of_the_group_unless_it_has_its_own(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    group = _group()
    first = (await create_product(api, on_hand=0, item_group=group))["sku"]
    second = (await create_product(api, on_hand=0, item_group=group))["sku"]
    own = (await create_product(api, on_hand=0, item_group=group))["sku"]
    other = (await create_product(api, on_hand=0, item_group=_group()))["sku"]
    supplier = await make_supplier(api)
    code = supplier["code"]
    await add_price(api, code, sku=first, unit_price="10.00")
    await add_price(api, code, sku=second, unit_price="20.00")
    await add_price(api, code, sku=own, unit_price="40.00", discount_percent="5")
    await add_price(api, code, sku=other, unit_price="30.00")
    today = datetime.now(UTC).date()
    ten = await _discount(api, code, item_group=group, discount_percent="10")
    await _discount(api, code, item_group=group, discount_percent="20", min_qty=50)
    # Expired, and not yet valid: neither counts today.
    await _discount(
        api, code, item_group=group, discount_percent="50",
        valid_from=(today - timedelta(days=30)).isoformat(),
        valid_to=(today - timedelta(days=1)).isoformat(),
    )  # fmt: skip
    await _discount(
        api, code, item_group=group, discount_percent="60",
        valid_from=(today + timedelta(days=1)).isoformat(),
    )  # fmt: skip

    quote = await _quote(api, first)
    assert (quote["supplier"], quote["unit_price"], quote["discount_percent"]) == (
        code,
        "10.0000",
        "10.00",
    )
    assert (quote["net_price"], quote["discount_source"]) == ("9.0000", "item_group")
    assert (await _quote(api, second))["net_price"] == "18.0000"
    assert (await _quote(api, first, 49))["net_price"] == "9.0000"
    assert (await _quote(api, first, 50))["net_price"] == "8.0000"  # the 50+ discount
    mine = await _quote(api, own, 50)  # its own 5 % wins over the group's 20 %
    assert (mine["net_price"], mine["discount_source"]) == ("38.0000", "price")
    outside = await _quote(api, other)
    assert (outside["net_price"], outside["discount_percent"]) == ("30.0000", "0.00")

    # The cheapest supplier is chosen after the discount: 8.50 beats 9.00, 8.00 beats 8.50.
    rival = await make_supplier(api)
    await add_price(api, rival["code"], sku=first, unit_price="8.50")
    assert (await _quote(api, first))["supplier"] == rival["code"]
    assert (await _quote(api, first, 50))["supplier"] == code

    listed = (await api.get(f"/api/suppliers/{code}/group-discounts")).json()
    assert [d["min_qty"] for d in listed] == [1, 1, 1, 50]  # by quantity (and start)
    assert sorted(d["discount_percent"] for d in listed) == ["10.00", "20.00", "50.00", "60.00"]
    assert all(d["supplier"] == code and d["item_group"] == group for d in listed)

    twice = await api.post(
        f"/api/suppliers/{code}/group-discounts",
        json={"item_group": group, "discount_percent": "3"},
    )
    assert twice.status_code == 409 and "already has a discount" in twice.json()["detail"]
    backwards = await api.post(
        f"/api/suppliers/{code}/group-discounts",
        json={
            "item_group": group,
            "discount_percent": "3",
            "valid_from": today.isoformat(),
            "valid_to": (today - timedelta(days=1)).isoformat(),
        },
    )
    assert backwards.status_code == 422
    nothing = await api.post(
        f"/api/suppliers/{code}/group-discounts", json={"item_group": group, "discount_percent": 0}
    )
    assert nothing.status_code == 422
    assert (await api.get("/api/suppliers/NOPE/group-discounts")).status_code == 404

    viewer = await create_employee(api, ["warehouse"])
    seen = await api.get(f"/api/suppliers/{code}/group-discounts", headers=auth(viewer))
    assert seen.status_code == 200
    refused = await api.post(
        f"/api/suppliers/{code}/group-discounts",
        json={"item_group": group, "discount_percent": "3", "min_qty": 7},
        headers=auth(viewer),
    )
    assert refused.status_code == 403 and "purchasing.manage" in refused.json()["detail"]

    gone = await api.delete(f"/api/suppliers/{code}/group-discounts/{ten['id']}")
    assert gone.status_code == 204
    assert (await _quote(api, first, 1))["supplier"] == rival["code"]
    back = await api.get(f"/api/suppliers/best-price?sku={second}&qty=1")
    assert back.json()["net_price"] == "20.0000"  # no group discount in force any more
    missing = await api.delete(f"/api/suppliers/{code}/group-discounts/{ten['id']}")
    assert missing.status_code == 404

    with session_scope(engine) as session:
        actions = session.exec(
            select(AuditEntry.action)
            .where(AuditEntry.entity == "supplier")
            .where(AuditEntry.entity_id == code)
            .where(col(AuditEntry.action).like("supplier.group_discount%"))
            .order_by(col(AuditEntry.id))
        ).all()
    assert actions == ["supplier.group_discount_add"] * 4 + ["supplier.group_discount_delete"]


async def test_a_purchase_order_without_unit_prices_takes_the_group_discount(
    api: httpx.AsyncClient,
) -> None:
    group = _group()
    plain = (await create_product(api, on_hand=0, item_group=group))["sku"]
    own = (await create_product(api, on_hand=0, item_group=group))["sku"]
    supplier = await make_supplier(api)
    code = supplier["code"]
    await add_price(api, code, sku=plain, unit_price="12.00")
    await add_price(api, code, sku=own, unit_price="10.00", discount_percent="2.5")
    await _discount(api, code, item_group=group, discount_percent="15", min_qty=10)

    created = await api.post(
        "/api/purchase-orders",
        json={
            "supplier": code,
            "lines": [{"sku": plain, "qty": 10}, {"sku": plain, "qty": 9}, {"sku": own, "qty": 10}],
        },
    )
    assert created.status_code == 201, created.text
    lines = created.json()["lines"]
    assert [(Decimal(ln["unit_price"]), Decimal(ln["discount_percent"])) for ln in lines] == [
        (Decimal("10.2"), Decimal("15")),  # 12.00 less the group's 15 % from 10
        (Decimal("12"), Decimal("0")),  # below the group's minimum quantity
        (Decimal("9.75"), Decimal("2.5")),  # its own discount wins
    ]
    given = await api.post(
        "/api/purchase-orders",
        json={"supplier": code, "lines": [{"sku": plain, "qty": 10, "discount_percent": "1"}]},
    )
    assert Decimal(given.json()["lines"][0]["unit_price"]) == Decimal("11.88")  # as given


async def test_group_discounts_on_the_supplier_page(api: httpx.AsyncClient) -> None:
    group = _group()
    sku = (await create_product(api, on_hand=0, item_group=group))["sku"]
    supplier = await make_supplier(api)
    code = supplier["code"]
    await add_price(api, code, sku=sku, unit_price="20.00")
    admin = await staff_client(api, ADMIN_TOKEN)
    page = await admin.get(f"/purchasing/suppliers/{code}")
    assert (
        'data-testid="group-discount-form"' in page.text and "No group discounts yet" in page.text
    )

    form = {"item_group": group, "discount_percent": "25", "min_qty": "1"}
    bad = await admin.post(
        f"/purchasing/suppliers/{code}/group-discounts", form | {"discount_percent": "abc"}
    )
    assert bad.status_code == 422 and 'data-field="discount_percent"' in bad.text
    added = await admin.post(f"/purchasing/suppliers/{code}/group-discounts", form)
    assert added.status_code == 303, added.text
    shown = await admin.get(f"/purchasing/suppliers/{code}")
    assert f'data-group="{group}"' in shown.text and "25.00%" in shown.text
    assert 'data-action="supplier.group_discount_add"' in shown.text
    twice = await admin.post(f"/purchasing/suppliers/{code}/group-discounts", form)
    assert twice.status_code == 422 and "already has a discount" in twice.text

    # A purchase order from the page's `SKU qty` lines takes the discounted price.
    po = await admin.post(
        "/purchasing/orders",
        {"supplier": code, "warehouse": "MAIN", "lines": f"{sku} 4", "key": uuid.uuid4().hex},
    )
    assert po.status_code == 303, po.text
    number = po.headers["location"].rsplit("/", 1)[1]
    assert "15.0000" in (await admin.get(po.headers["location"])).text
    line = (await api.get(f"/api/purchase-orders/{number}")).json()["lines"][0]
    assert Decimal(line["unit_price"]) == Decimal("15")

    clerk = await staff_client(api, (await create_employee(api, ["warehouse"]))["token"])
    viewed = await clerk.get(f"/purchasing/suppliers/{code}")
    assert f'data-group="{group}"' in viewed.text
    assert 'data-testid="group-discount-form"' not in viewed.text
    refused = await clerk.post(f"/purchasing/suppliers/{code}/group-discounts", form)
    assert refused.status_code == 403

    [discount] = (await api.get(f"/api/suppliers/{code}/group-discounts")).json()
    removed = await admin.post(
        f"/purchasing/suppliers/{code}/group-discounts/{discount['id']}/delete"
    )
    assert removed.status_code == 303
    after = await admin.get(f"/purchasing/suppliers/{code}")
    assert "No group discounts yet" in after.text and "Group discount removed" in after.text
    again = await admin.post(
        f"/purchasing/suppliers/{code}/group-discounts/{discount['id']}/delete"
    )
    assert again.status_code == 404 and "has no group discount" in again.text
    assert (await _quote(api, sku))["net_price"] == "20.0000"


async def test_reorder_suggestions_buy_at_the_group_discount(api: httpx.AsyncClient) -> None:
    group = _group()
    low = (await create_product(api, on_hand=1, item_group=group))["sku"]
    supplier = await make_supplier(api)
    await add_price(api, supplier["code"], sku=low, unit_price="8.00")
    await _discount(api, supplier["code"], item_group=group, discount_percent="12.5", min_qty=20)
    answer = await api.post(
        f"/api/inventory/{low}/reorder-level",
        json={"warehouse": "MAIN", "reorder_level": 5, "reorder_qty": 20},
    )
    assert answer.status_code == 200, answer.text

    admin = await staff_client(api, ADMIN_TOKEN)
    page = await admin.get("/purchasing/suggestions")
    row = page.text.split(f'data-ref="{low}@MAIN"', 1)[1].split("</tr>", 1)[0]
    assert "7.0000 USD" in row  # 8.00 less 12.5 % for the reorder quantity of 20
    ordered = await admin.post(
        "/purchasing/suggestions", {"pick": f"{low}@MAIN", "key": uuid.uuid4().hex}
    )
    assert ordered.status_code == 303, ordered.text
    (po,) = [
        p
        for p in (await api.get("/api/purchase-orders", params={"kind": "stock"})).json()
        if p["lines"][0]["sku"] == low
    ]
    assert Decimal(po["lines"][0]["unit_price"]) == Decimal("7")
