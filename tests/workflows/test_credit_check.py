"""Credit check: over the limit → an approval task for the credit role; refused → cancelled."""

import httpx

from tests.utils.api import (
    auth,
    create_customer,
    create_employee,
    create_product,
    place_order,
    wait_for_open_task,
    wait_for_order,
)


async def test_over_the_limit_waits_for_credit_approval(api: httpx.AsyncClient, worker) -> None:
    credit = await create_employee(api, ["credit"])
    product = await create_product(api, on_hand=10, price="60.00")
    customer = await create_customer(api, credit_limit="100.00", group="b2b")

    within = await place_order(api, customer["id"], [(product["sku"], 1)])  # 60 <= 100
    await wait_for_order(api, within["number"], lambda o: o["current_step"] == "collection")
    # 60 unpaid + 60 = 120 > 100: held for approval
    over = await place_order(api, customer["id"], [(product["sku"], 1)])
    task = await wait_for_open_task(api, over["number"], "allocation")
    assert task["role"] == "credit"
    held = (await api.get(f"/api/orders/{over['number']}")).json()
    hold = next(e for e in held["events"] if e["kind"] == "credit_hold")
    assert "120.00" in hold["message"] and "100.00" in hold["message"]
    stock = (await api.get(f"/api/inventory/{product['sku']}")).json()
    assert stock["committed"] == 0  # not allocated while on hold

    approved = await api.post(
        f"/api/tasks/{task['id']}/complete", json={"outcome": "approved"}, headers=auth(credit)
    )
    assert approved.status_code == 200
    await wait_for_order(api, over["number"], lambda o: o["current_step"] == "collection")

    refused_order = await place_order(api, customer["id"], [(product["sku"], 1)])
    task = await wait_for_open_task(api, refused_order["number"], "allocation")
    refused = await api.post(
        f"/api/tasks/{task['id']}/complete",
        json={"outcome": "rejected", "note": "overdue"},
        headers=auth(credit),
    )
    assert refused.status_code == 200
    final = await wait_for_order(api, refused_order["number"], lambda o: o["status"] == "cancelled")
    assert "rejected" in final["events"][-1]["message"]


async def test_prepaid_orders_skip_the_credit_check(api: httpx.AsyncClient, worker) -> None:
    product = await create_product(api, on_hand=10, price="500.00")
    customer = await create_customer(api, credit_limit="10.00")
    order = await place_order(api, customer["id"], [(product["sku"], 1)], prepaid=True)
    final = await wait_for_order(api, order["number"], lambda o: o["status"] == "completed")
    assert not any(e["kind"] == "credit_hold" for e in final["events"])
