"""The opportunity pages over HTTP: record a deal from the form, move it, the pipeline and its
CSVs, a new quote for the deal through the order entry, and marking it lost (confirmed, with a
reason from the list), which cancels its open quote."""

import csv
import io
import re

import httpx

from tests.utils.api import create_customer, create_employee, create_product, wait_for_order
from tests.utils.opportunity import create_opportunity
from tests.utils.pages import staff_client

NUMBER = re.compile(r"/opportunities/(OPP-\d+)$")
ORDER = re.compile(r"/orders/([A-Z0-9-]+)$")


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_record_move_and_the_pipeline_with_its_csvs(api: httpx.AsyncClient) -> None:
    rep = await create_employee(api, ["sales"], clearance=3)
    customer = await create_customer(api, name="Pipeline Buyer")
    page = await staff_client(api, rep["token"])
    form = await page.get(f"/opportunities/new?customer_id={customer['id']}")
    assert form.status_code == 200 and f'value="{customer["id"]}"' in form.text
    fields = {"customer_id": str(customer["id"]), "title": "Conveyor belts", "value": "1,250.00"}
    fields |= {"currency": "", "stage": "proposal", "probability": "", "expected_close": ""}
    bad = await page.post("/opportunities/new", fields | {"value": "lots"})
    assert bad.status_code == 422 and "text/html" in bad.headers["content-type"]
    created = await page.post("/opportunities/new", fields | {"owner_id": str(rep["id"])})
    assert created.status_code == 303, created.text
    number = NUMBER.search(created.headers["location"]).group(1)
    deal = (await api.get(f"/api/opportunities/{number}")).json()
    assert (deal["value"], deal["probability"], deal["owner_id"]) == ("1250.00", 50, rep["id"])

    moved = await page.post(f"/opportunities/{number}/stage", {"stage": "negotiation"})
    assert moved.status_code == 303
    bogus = await page.post(f"/opportunities/{number}/stage", {"stage": "dreaming"})
    assert bogus.status_code == 303  # back to the deal with the refusal as an alert
    shown = await page.get(f"/opportunities/{number}")
    assert "not one of" in shown.text
    assert 'data-testid="stage">negotiation' in shown.text
    assert shown.text.count('data-testid="stage-change"') == 2
    edited = await page.post(
        f"/opportunities/{number}/edit",
        {"title": "Conveyor belts", "value": "2,000.00", "probability": "80", "owner_id": ""},
    )
    assert edited.status_code == 303, edited.text

    pipeline = await page.get("/opportunities", params={"owner": str(rep["id"])})
    assert pipeline.status_code == 200
    row = re.search(r'data-stage="negotiation".*?</tr>', pipeline.text, re.S).group(0)
    assert "1,600.00 USD" in row and "2,000.00 USD" in row  # 2,000.00 at 80 %
    assert f'data-key="{number}"' in pipeline.text
    rows = _csv((await page.get("/opportunities/pipeline.csv")).text)
    stage = next(r for r in rows if r["stage"] == "negotiation")
    assert (stage["count"], stage["total"], stage["weighted"]) == ("1", "2000.00", "1600.00")
    listed = _csv((await page.get("/opportunities.csv", params={"stage": "negotiation"})).text)
    assert [(r["number"], r["weighted"], r["owner"]) for r in listed] == [
        (number, "1600.00", "Test Employee")
    ]

    desk = await create_employee(api, ["order_desk"], clearance=3)
    viewer = await staff_client(api, desk["token"])
    read_only = await viewer.get(f"/opportunities/{number}")
    assert read_only.status_code == 200 and 'data-testid="stage-form"' not in read_only.text
    refused = await viewer.post(f"/opportunities/{number}/stage", {"stage": "won"})
    assert refused.status_code == 403
    warehouse = await staff_client(api, (await create_employee(api, ["warehouse"]))["token"])
    assert (await warehouse.get("/opportunities")).status_code == 403


async def test_a_quote_for_the_deal_then_lost_cancels_it(api: httpx.AsyncClient, worker) -> None:
    rep = await create_employee(api, ["sales"], clearance=3)
    product = await create_product(api, on_hand=10, price="25.00")
    customer = await create_customer(api)
    other = await create_customer(api)
    deal = await create_opportunity(api, customer["id"], title="Spare parts")
    number = deal["number"]
    page = await staff_client(api, rep["token"])
    shown = await page.get(f"/opportunities/{number}")
    link = re.search(r'href="([^"]+)" data-testid="new-quote"', shown.text).group(1)
    entry = await page.get(link.replace("&amp;", "&"))
    assert entry.status_code == 200
    assert f'name="opportunity" value="{number}"' in entry.text
    assert 'data-testid="place-order"' not in entry.text
    wrong = await page.get(f"/orders/new?customer_id={other['id']}&opportunity={number}")
    assert wrong.status_code == 422

    url = f"/orders/new?customer_id={customer['id']}"
    lines = {"sku-0": product["sku"], "qty-0": "2", "opportunity": number}
    placed = await page.post(url, {"action": "place", **lines})
    assert placed.status_code == 422  # a deal's order starts as a quote
    saved = await page.post(url, {"action": "quote", **lines})
    assert saved.status_code == 303, saved.text
    quote = ORDER.search(saved.headers["location"]).group(1)
    assert (await api.get(f"/api/orders/{quote}")).json()["opportunity"] == number
    shown = await page.get(f"/opportunities/{number}")
    assert f'data-number="{quote}"' in shown.text

    unconfirmed = await page.post(f"/opportunities/{number}/lost", {"reason": "price"})
    assert unconfirmed.status_code == 303
    assert (await api.get(f"/api/opportunities/{number}")).json()["stage"] == "prospecting"
    lost = await page.post(
        f"/opportunities/{number}/lost",
        {"reason": "no_budget", "note": "frozen until Q3", "confirmed": "yes"},
    )
    assert lost.status_code == 303, lost.text
    await wait_for_order(api, quote, lambda o: o["status"] == "cancelled")
    shown = await page.get(f"/opportunities/{number}")
    assert 'data-testid="lost"' in shown.text and "no budget" in shown.text
    assert f"quotes cancelled: {quote}" in shown.text
    assert 'data-testid="lost-form"' not in shown.text
