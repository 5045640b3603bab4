"""Routing rules over HTTP: the rules in force and the preview."""

from pathlib import Path

import httpx
import pytest

from routing_rules.registry import RuleRegistry
from tests.utils.api import create_customer, create_product

DEFAULT_RULES = Path(__file__).resolve().parents[2] / "routing_rules" / "rules"


@pytest.fixture
def rules_dir() -> Path:
    """The rule set that ships."""
    return DEFAULT_RULES


async def test_rules_in_force(api: httpx.AsyncClient) -> None:
    body = (await api.get("/api/routing-rules")).json()
    names = [r["name"] for r in body["rules"]]
    assert names == ["counter-sales", "big-b2b", "web-orders", "default"]
    assert len(body["version"]) == 12
    assert body["last_error"] is None


async def test_preview_of_an_order_and_of_plain_facts(api: httpx.AsyncClient) -> None:
    product = await create_product(api, price="2500.00", on_hand=10)
    wholesale = await create_customer(api, group="wholesale")
    big = await api.post(
        "/api/routing-rules/preview",
        json={
            "customer_id": wholesale["id"],
            "lines": [{"sku": product["sku"], "qty": 2}],
        },
    )
    assert big.status_code == 200, big.text
    decision = big.json()["decision"]
    assert big.json()["facts"]["total"] == "5000.00"
    assert decision["rule"] == "big-b2b"
    modes = {s["step"]: (s["mode"], s["role"]) for s in decision["steps"]}
    assert modes["quote"] == ("task", "sales")
    assert modes["allocation"] == ("task", "credit")

    web = (await api.post("/api/routing-rules/preview", json={"channel": "web"})).json()
    steps = {s["step"]: s for s in web["decision"]["steps"]}
    assert web["decision"]["rule"] == "web-orders"
    assert steps["allocation"]["assign"] == "round_robin"
    assert steps["allocation"]["role"] == "order_desk"
    small = (
        await api.post(
            "/api/routing-rules/preview",
            json={
                "customer_group": "wholesale",
                "total": "4999.99",
            },
        )
    ).json()
    assert small["decision"]["rule"] == "default"
    bad = await api.post("/api/routing-rules/preview", json={"channel": "pigeon"})
    assert bad.status_code == 422


async def test_a_bad_edit_keeps_the_last_good_rules(api: httpx.AsyncClient, tmp_path) -> None:
    state = api._transport.app.state.conveyor  # the app under test
    directory = tmp_path / "rules"
    directory.mkdir()
    good = (DEFAULT_RULES / "default.yaml").read_text()
    (directory / "rules.yaml").write_text(good)
    state.rules = RuleRegistry(directory)
    version = (await api.get("/api/routing-rules")).json()["version"]
    (directory / "rules.yaml").write_text(good + "\n  - name: broken\n    steps: {shiping: auto}\n")
    body = (await api.get("/api/routing-rules")).json()
    assert body["version"] == version
    assert any("rules.yaml:" in e and "shiping" in e for e in body["last_error"])
