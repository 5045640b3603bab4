"""Collection: partial payments wait, an overpayment completes the order with a credit."""

import httpx

from tests.utils.api import create_customer, create_product, place_order, wait_for_order


async def _at_collection(api: httpx.AsyncClient, price: str) -> str:
    product = await create_product(api, on_hand=5, price=price)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(product["sku"], 1)], channel="sales_rep")
    await wait_for_order(api, order["number"], lambda o: o["current_step"] == "collection")
    return order["number"]


async def test_partial_payments_then_settled(api: httpx.AsyncClient, worker) -> None:
    number = await _at_collection(api, "25.00")
    first = await api.post(f"/api/orders/{number}/payments", json={"amount": "10.00"})
    assert first.status_code == 201
    assert (first.json()["paid"], first.json()["balance"]) == ("10.00", "15.00")
    order = (await api.get(f"/api/orders/{number}")).json()
    assert order["status"] == "open" and order["current_step"] == "collection"
    second = await api.post(f"/api/orders/{number}/payments", json={"amount": "15.00"})
    assert second.json()["balance"] == "0.00"
    await wait_for_order(api, number, lambda o: o["status"] == "completed")


async def test_overpayment_completes_with_a_credit(api: httpx.AsyncClient, worker) -> None:
    number = await _at_collection(api, "25.00")
    paid = await api.post(f"/api/orders/{number}/payments", json={"amount": "30.00"})
    assert paid.status_code == 201
    final = await wait_for_order(api, number, lambda o: o["status"] == "completed")
    assert (final["totals"]["paid"], final["totals"]["balance"]) == ("30.00", "-5.00")
    message = next(e["message"] for e in final["events"] if e["kind"] == "paid")
    assert message == "paid 30.00 of 25.00; overpaid by 5.00, a credit for the customer"


async def test_bad_payments_are_refused(api: httpx.AsyncClient, worker) -> None:
    number = await _at_collection(api, "25.00")
    for body in ({"amount": "0"}, {"amount": "-3"}, {"amount": "abc"}, {}):
        response = await api.post(f"/api/orders/{number}/payments", json=body)
        assert response.status_code == 422, body
    assert (await api.get(f"/api/orders/{number}")).json()["totals"]["paid"] == "0.00"
    missing = await api.post("/api/orders/SO-999999/payments", json={"amount": "1"})
    assert missing.status_code == 404
