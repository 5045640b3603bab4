"""People get designed error pages (404, 405, 422); the API and webhooks keep their JSON."""

import httpx

from tests.conftest import ADMIN_TOKEN
from tests.utils.pages import staff_client


def _is_page(response: httpx.Response) -> bool:
    return response.headers["content-type"].startswith("text/html") and "<main>" in response.text


async def test_unknown_addresses_and_methods(api: httpx.AsyncClient) -> None:
    page = await api.get("/no/such/page")
    assert page.status_code == 404 and _is_page(page)
    assert "There is no page at this address" in page.text
    assert '"detail"' not in page.text
    not_allowed = await api.put("/login")
    assert not_allowed.status_code == 405 and _is_page(not_allowed)

    for path in ("/api/no-such-route", "/webhooks/no-such-provider"):
        machine = await api.get(path)
        assert machine.status_code in (401, 404), path
        assert machine.headers["content-type"] == "application/json", path
    unknown = await api.get(
        "/api/no-such-route", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Not Found"})


async def test_unusable_values_say_which_in_words(api: httpx.AsyncClient) -> None:
    staff = await staff_client(api, ADMIN_TOKEN)
    try:
        for path, field in (("/reports?days=abc", "days"), ("/customers/abc", "customer id")):
            page = await staff.get(path)
            assert page.status_code == 422 and _is_page(page), path
            assert "Part of this request is not usable" in page.text
            assert f"<li>{field}: " in page.text, page.text
            assert "[{" not in page.text  # no raw validation JSON
    finally:
        await staff.aclose()
    api_answer = await api.get(
        "/api/orders?page=abc", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert api_answer.status_code == 422
    assert api_answer.json()["detail"][0]["loc"] == ["query", "page"]
