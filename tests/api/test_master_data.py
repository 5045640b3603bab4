"""Master data through the API: customers' edits, retiring, addresses, contacts; products."""

import uuid

import httpx

from tests.utils.api import (
    auth,
    create_customer,
    create_employee,
    create_product,
    place_order,
    wait_for_order,
)


async def _history(api: httpx.AsyncClient, entity: str, entity_id: object) -> list[dict]:
    response = await api.get("/api/audit", params={"entity": entity, "entity_id": str(entity_id)})
    assert response.status_code == 200, response.text
    return response.json()["entries"]


async def test_addresses_defaults_and_retiring(api: httpx.AsyncClient) -> None:
    customer = await create_customer(api)
    base = f"/api/customers/{customer['id']}/addresses"
    body = {
        "kind": "shipping",
        "name": "Acme Dock 1",
        "line1": "1 Harbour Road",
        "city": "Springfield",
        "postcode": "12345",
        "country": "us",
    }
    first = await api.post(base, json=body)
    assert first.status_code == 201, first.text
    assert first.json()["is_default"] is True  # the first of its kind
    assert first.json()["country"] == "US"
    second = (await api.post(base, json={**body, "name": "Dock 2", "is_default": True})).json()
    billing = (await api.post(base, json={**body, "kind": "billing", "name": "Accounts"})).json()
    assert billing["is_default"] is True
    shipping = (await api.get(base, params={"kind": "shipping"})).json()
    assert [(a["id"], a["is_default"]) for a in shipping] == [
        (second["id"], True),
        (first.json()["id"], False),
    ]

    patched = await api.patch(f"{base}/{first.json()['id']}", json={"is_default": True})
    assert patched.status_code == 200, patched.text
    assert patched.json()["is_default"] is True
    unset = await api.patch(f"{base}/{first.json()['id']}", json={"is_default": False})
    assert unset.status_code == 409

    retired = await api.post(f"{base}/{first.json()['id']}/retire")
    assert retired.status_code == 200
    assert retired.json()["retired_at"] is not None
    shipping = (await api.get(base, params={"kind": "shipping"})).json()
    assert [(a["id"], a["is_default"]) for a in shipping] == [(second["id"], True)]
    everything = (await api.get(base, params={"include_retired": True})).json()
    assert len(everything) == 3

    bad = await api.post(base, json={**body, "kind": "holiday", "country": "USA", "line1": ""})
    assert bad.status_code == 422
    assert {e["loc"][-1] for e in bad.json()["detail"]} == {"kind", "country", "line1"}
    other = await create_customer(api)
    missing = await api.patch(f"/api/customers/{other['id']}/addresses/{second['id']}", json={})
    assert missing.status_code == 404  # an address of another customer

    actions = [e["action"] for e in await _history(api, "customer", customer["id"])]
    for action in ("address_add", "address_update", "address_retire"):
        assert f"customer.{action}" in actions


async def test_contacts(api: httpx.AsyncClient) -> None:
    customer = await create_customer(api)
    base = f"/api/customers/{customer['id']}/contacts"
    created = await api.post(
        base, json={"name": "Ann Buyer", "email": "Ann@Example.com", "phone": "+1 555 0100"}
    )
    assert created.status_code == 201, created.text
    contact = created.json()
    assert contact["email"] == "ann@example.com"
    bad = await api.post(base, json={"name": "X", "email": "not-mail", "phone": "call me"})
    assert bad.status_code == 422
    patched = await api.patch(f"{base}/{contact['id']}", json={"role": "purchasing", "phone": None})
    assert (patched.json()["role"], patched.json()["phone"]) == ("purchasing", None)
    assert (await api.post(f"{base}/{contact['id']}/retire")).status_code == 200
    assert (await api.get(base)).json() == []
    other = await create_customer(api)
    missing = await api.patch(f"/api/customers/{other['id']}/contacts/{contact['id']}", json={})
    assert missing.status_code == 404 and "not found" in missing.json()["detail"]
    actions = [e["action"] for e in await _history(api, "customer", customer["id"])]
    assert {"customer.contact_add", "customer.contact_update", "customer.contact_retire"} <= set(
        actions
    )


async def test_patch_customer_validates_and_audits(api: httpx.AsyncClient) -> None:
    customer = await create_customer(api)
    url = f"/api/customers/{customer['id']}"
    response = await api.patch(url, json={"credit_limit": "2500.00", "payment_terms_days": 14})
    assert response.status_code == 200, response.text
    assert (response.json()["credit_limit"], response.json()["payment_terms_days"]) == (
        "2500.00",
        14,
    )
    entry = (await _history(api, "customer", customer["id"]))[0]
    assert entry["action"] == "customer.update"
    assert entry["before"] == {"credit_limit": "0.00", "payment_terms_days": 30}
    assert entry["after"] == {"credit_limit": "2500.00", "payment_terms_days": 14}

    for body in (
        {"credit_limit": "-1"},
        {"payment_terms_days": 400},
        {"email": "nope"},
        {"name": ""},
        {"country": "usa"},
        {"account_rep_id": 0},
    ):
        refused = await api.patch(url, json=body)
        assert refused.status_code == 422, body
    assert (await api.patch(url, json={"name": None})).status_code == 422
    assert (await api.patch(url, json={"account_rep_id": 999999})).status_code == 422
    other = await create_customer(api)
    taken = await api.patch(url, json={"email": other["email"].upper()})
    assert taken.status_code == 409
    assert (await api.get(url)).json()["credit_limit"] == "2500.00"  # nothing else changed


async def test_customer_edit_permissions(api: httpx.AsyncClient) -> None:
    customer = await create_customer(api)
    url = f"/api/customers/{customer['id']}"
    clerk = await create_employee(api, ["warehouse"])
    junior = await create_employee(api, ["order_desk"], clearance=1)
    for who in (clerk, junior):
        assert (await api.patch(url, json={"name": "X"}, headers=auth(who))).status_code == 403
        assert (await api.post(f"{url}/retire", headers=auth(who))).status_code == 403
        body = {"name": "X"}
        refused = await api.post(f"{url}/contacts", json=body, headers=auth(who))
        assert refused.status_code == 403
    rep = await create_employee(api, ["sales"], clearance=2)
    # A sales rep below clearance 3 edits only the accounts they own.
    assert (await api.patch(url, json={"name": "X"}, headers=auth(rep))).status_code == 404
    owned = await create_customer(api, account_rep_id=rep["id"])
    own_url = f"/api/customers/{owned['id']}"
    ok = await api.patch(own_url, json={"name": "Renamed"}, headers=auth(rep))
    assert ok.status_code == 200, ok.text
    handed_on = await api.patch(own_url, json={"account_rep_id": None}, headers=auth(rep))
    assert handed_on.status_code == 403


async def test_retired_customer(api: httpx.AsyncClient) -> None:
    customer = await create_customer(api)
    url = f"/api/customers/{customer['id']}"
    retired = await api.post(f"{url}/retire")
    assert retired.status_code == 200, retired.text
    assert retired.json()["retired_at"] is not None
    assert (await api.post(f"{url}/retire")).status_code == 409
    refused = await api.patch(url, json={"name": "Again"})
    assert refused.status_code == 409
    assert "retired" in refused.json()["detail"]
    address = {"kind": "billing", "name": "A", "line1": "B", "city": "C", "country": "US"}
    assert (await api.post(f"{url}/addresses", json=address)).status_code == 409
    entry = (await _history(api, "customer", customer["id"]))[0]
    assert entry["action"] == "customer.retire"


async def test_new_products_need_a_name_and_get_their_own_bin(api: httpx.AsyncClient) -> None:
    sku = f"P-{uuid.uuid4().hex[:8]}"
    nameless = await api.post("/api/products", json={"sku": sku, "price": "1.00"})
    assert nameless.status_code == 422
    blank = await api.post("/api/products", json={"sku": sku, "price": "1.00", "name": "  "})
    assert blank.status_code == 422
    assert (await api.get(f"/api/inventory/{sku}")).status_code == 404  # nothing created
    first = await create_product(api, sku=sku)
    second = await create_product(api)
    assert first["location"] == sku.upper()
    assert first["location"] != second["location"]  # no shared default bin
    stock = (await api.get(f"/api/inventory/{sku}")).json()
    assert stock["warehouses"][0]["location"] == sku.upper()
    given = await create_product(api, location="Z-09")
    assert given["location"] == "Z-09"
    long_sku = "L" + "x" * 40
    too_long = await api.post(
        "/api/products", json={"sku": long_sku, "price": "1.00", "name": "Long"}
    )
    assert too_long.status_code == 422
    assert "location" in too_long.json()["detail"]


async def test_patch_product_validates_sets_bins_and_audits(api: httpx.AsyncClient) -> None:
    product = await create_product(api, on_hand=2)
    option = await create_product(api)
    url = f"/api/products/{product['sku']}"
    body = {
        "name": "Renamed",
        "price": "12.50",
        "tags": ["office"],
        "tax_class": "reduced",
        "options": [option["sku"]],
        "bins": {"main": "B-07"},
    }
    response = await api.patch(url, json=body)
    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["name"], changed["price"], changed["options"]) == (
        "Renamed",
        "12.50",
        [option["sku"]],
    )
    stock = (await api.get(f"/api/inventory/{product['sku']}")).json()
    assert stock["warehouses"][0]["location"] == "B-07"
    entry = (await _history(api, "product", product["sku"]))[0]
    assert entry["action"] == "product.update"
    assert entry["before"]["price"] == "10.00" and entry["after"]["price"] == "12.50"
    assert entry["after"]["bins"] == {"MAIN": "B-07"}

    for bad in (
        {"price": "-1"},
        {"name": ""},
        {"options": [product["sku"]]},
        {"options": ["NO-SUCH-SKU"]},
        {"drop_ship": True},
        {"bins": {"NOWHERE": "B-1"}},
        {"bins": {"MAIN": "bad bin!"}},
        {"supplier_email": "x"},
    ):
        refused = await api.patch(url, json=bad)
        assert refused.status_code == 422, (bad, refused.text)
    assert (await api.get(f"/api/inventory/{product['sku']}")).json()["warehouses"][0][
        "location"
    ] == "B-07"
    clerk = await create_employee(api, ["warehouse"], clearance=3)
    assert (await api.patch(url, json={"name": "X"}, headers=auth(clerk))).status_code == 403
    assert (await api.post(f"{url}/retire", headers=auth(clerk))).status_code == 403
    assert (await api.patch("/api/products/NO-SUCH", json={})).status_code == 404


async def test_retiring_a_product_on_open_orders_is_refused(
    api: httpx.AsyncClient, worker: None
) -> None:
    product = await create_product(api, on_hand=5)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)])
    refused = await api.post(f"/api/products/{product['sku']}/retire")
    assert refused.status_code == 409
    assert order["number"] in refused.json()["detail"]
    cancelled = await api.post(f"/api/orders/{order['number']}/cancel", params={"reason": "test"})
    assert cancelled.status_code in (200, 202), cancelled.text
    await wait_for_order(api, order["number"], lambda o: o["status"] == "cancelled")
    retired = await api.post(f"/api/products/{product['sku']}/retire")
    assert retired.status_code == 200, retired.text
    assert retired.json()["retired_at"] is not None
    again = await api.post(
        "/api/orders",
        json={"customer_id": customer["id"], "lines": [{"sku": product["sku"], "qty": 1}]},
    )
    assert again.status_code == 422
    assert "retired" in again.json()["detail"]
    assert (await api.patch(f"/api/products/{product['sku']}", json={"name": "Y"})).status_code == (
        409
    )
    entry = (await _history(api, "product", product["sku"]))[0]
    assert entry["action"] == "product.retire"


async def test_retired_customer_cannot_order(api: httpx.AsyncClient) -> None:
    product = await create_product(api)
    customer = await create_customer(api)
    assert (await api.post(f"/api/customers/{customer['id']}/retire")).status_code == 200
    refused = await api.post(
        "/api/orders",
        json={"customer_id": customer["id"], "lines": [{"sku": product["sku"], "qty": 1}]},
    )
    assert refused.status_code == 422
    assert "retired and cannot place new orders" in refused.json()["detail"]
