"""Price agreement and rate listings are paginated (page, page_size up to 200) without breaking
the clients that read `{data, count}` or a plain list."""

import httpx

from tests.utils.api import create_product


async def test_price_agreements_are_listed_a_page_at_a_time(api: httpx.AsyncClient) -> None:
    product = await create_product(api)
    ids = []
    for priority in range(5):
        body = {"name": f"A{priority}", "sku": product["sku"], "discount_percent": "1"}
        created = await api.post("/api/price-agreements", json=body | {"priority": priority})
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    by_priority = list(reversed(ids))  # highest priority first

    # An old client: no paging parameters, the same shape (and everything, below a page).
    everything = (await api.get("/api/price-agreements", params={"sku": product["sku"]})).json()
    assert [a["id"] for a in everything["data"]] == by_priority
    assert (everything["count"], everything["page"], everything["page_size"]) == (5, 1, 50)

    pages = []
    for page in (1, 2, 3):
        answer = await api.get(
            "/api/price-agreements", params={"sku": product["sku"], "page": page, "page_size": 2}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["count"] == 5  # all that match, whatever the page
        pages.append([a["id"] for a in answer.json()["data"]])
    assert pages == [by_priority[:2], by_priority[2:4], by_priority[4:]]

    for params in ({"page_size": 201}, {"page_size": 0}, {"page": 0}):
        refused = await api.get("/api/price-agreements", params=params)
        assert refused.status_code == 422, (params, refused.text)
    assert (await api.get("/api/price-agreements", params={"page_size": 200})).status_code == 200


async def test_rate_lists_stay_lists_with_the_total_in_a_header(api: httpx.AsyncClient) -> None:
    for country in ("DE", "FR", "NL"):
        body = {"tax_class": "standard", "country": country, "rate": "20"}
        assert (await api.post("/api/tax-rates", json=body)).status_code == 201
        rate = {"name": country, "country": country, "currency": "USD", "amount": "4.00"}
        assert (await api.post("/api/shipping-rates", json=rate)).status_code == 201
    for path in ("/api/tax-rates", "/api/shipping-rates"):
        whole = await api.get(path)
        assert whole.status_code == 200 and isinstance(whole.json(), list)
        assert len(whole.json()) == 3 and whole.headers["X-Total-Count"] == "3"
        second = await api.get(path, params={"page": 2, "page_size": 2})
        assert len(second.json()) == 1 and second.headers["X-Total-Count"] == "3"
        assert second.json()[0] == whole.json()[2]
        assert (await api.get(path, params={"page_size": 201})).status_code == 422
