"""The API's /metrics: Prometheus text, counted per route template, behind monitor.view."""

import io
import json
import logging

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from conveyor.core.logs import JsonFormatter
from tests.utils.api import auth, create_customer, create_employee


def _samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


async def test_requests_are_counted_by_route_template(api: httpx.AsyncClient) -> None:
    customer = await create_customer(api)
    for _ in range(2):
        response = await api.get(f"/api/customers/{customer['id']}")
        assert response.status_code == 200, response.text
    missing = await api.get("/api/customers/999999")
    assert missing.status_code == 404
    refused = await api.get(f"/api/customers/{customer['id']}", headers={"Authorization": ""})
    assert refused.status_code == 401
    await api.get("/no/such/page/123")

    response = await api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    requests = _samples(response.text, "conveyor_http_requests_total")
    counted = {(s["method"], s["route"], s["status"]): v for s, v in requests}
    template = "/api/customers/{customer_id}"
    assert counted[("GET", template, "200")] == 2
    assert counted[("GET", template, "404")] == 1
    assert counted[("GET", template, "401")] == 1  # refused by the guard, still its route
    assert counted[("POST", "/api/customers", "201")] == 1
    assert counted[("GET", "unmatched", "404")] == 1
    # Templates only: no raw id or path is ever a label.
    assert not [s for s, _ in requests if str(customer["id"]) in s["route"] or "123" in s["route"]]
    latency = _samples(response.text, "conveyor_http_request_duration_seconds_count")
    assert {"method": "GET", "route": template} in [s for s, _ in latency]
    assert _samples(response.text, "conveyor_http_errors_total") == []


async def test_metrics_need_monitor_view(api: httpx.AsyncClient) -> None:
    anonymous = await api.get("/metrics", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    clerk = await create_employee(api, ["order_desk"], clearance=5)
    assert (await api.get("/metrics", headers=auth(clerk))).status_code == 403
    supervisor = await create_employee(api, ["supervisor"])
    assert (await api.get("/metrics", headers=auth(supervisor))).status_code == 200


async def test_a_line_logged_during_a_request_names_its_method_and_path(
    api: httpx.AsyncClient,
) -> None:
    app: FastAPI = api._transport.app  # type: ignore[attr-defined]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.metrics.probe")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False

    # A route of the test's own app that logs, as a handler deep in a request would.
    def probe(number: str) -> dict[str, str]:
        logger.info("probing %s", number)
        return {"ok": number}

    app.add_api_route("/probe/{number}", probe, methods=["POST"])
    assert (await api.post("/probe/SO-7")).status_code == 200
    (line,) = [json.loads(raw) for raw in stream.getvalue().splitlines()]
    assert line["message"] == "probing SO-7"
    assert (line["method"], line["path"]) == ("POST", "/probe/SO-7")
    metrics = (await api.get("/metrics")).text
    assert 'route="/probe/{number}"' in metrics
