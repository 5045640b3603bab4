"""Export runs over HTTP: the JSON API and the accounts page (confirm, list, download again)."""

import hashlib
import io
import re
import zipfile
from datetime import UTC, datetime

import httpx
from sqlalchemy.engine import Engine

from tests.utils.accounting import books
from tests.utils.api import auth, create_employee
from tests.utils.pages import staff_client

TODAY = datetime.now(UTC).date().isoformat()
PERIOD = {"from": TODAY, "to": TODAY}


async def test_export_runs_through_the_api(api: httpx.AsyncClient, engine: Engine) -> None:
    invoice_number, _ = books(engine)
    accountant = await create_employee(api, ["accountant"])
    clerk = await create_employee(api, ["warehouse"])
    body = {"package": "sql_accounting", **PERIOD}

    refused = await api.post("/api/accounting/exports", json=body, headers=auth(clerk))
    assert refused.status_code == 403, refused.text
    assert "journal.export" in refused.json()["detail"]

    preview = await api.get(
        "/api/accounting/exports/preview",
        params={"package": "sql_accounting", **PERIOD},
        headers=auth(accountant),
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["counts"] == {"customer": 1, "invoice": 1, "credit_note": 1, "payment": 3}

    created = await api.post("/api/accounting/exports", json=body, headers=auth(accountant))
    assert created.status_code == 201, created.text
    run = created.json()
    assert run["package"] == "sql_accounting" and run["created_by"] == accountant["email"]
    assert f"invoice:{invoice_number}" in run["documents"]
    assert (run["period_start"], run["period_end"]) == (TODAY, TODAY)

    again = await api.post("/api/accounting/exports", json=body, headers=auth(accountant))
    assert again.status_code == 409 and "nothing new" in again.json()["detail"]

    first = await api.get(f"/api/accounting/exports/{run['id']}/file", headers=auth(accountant))
    second = await api.get(f"/api/accounting/exports/{run['id']}/file", headers=auth(accountant))
    assert first.status_code == second.status_code == 200
    assert first.headers["content-type"] == "application/zip"
    assert run["filename"] in first.headers["content-disposition"]
    assert first.content == second.content and len(first.content) == run["size"]
    assert (
        hashlib.sha256(first.content).hexdigest()
        == run["sha256"]
        == first.headers["x-content-sha256"]
    )
    with zipfile.ZipFile(io.BytesIO(first.content)) as archive:
        assert "AR_IV.txt" in archive.namelist()

    listed = await api.get("/api/accounting/exports", headers=auth(accountant))
    assert listed.status_code == 200 and listed.json()["count"] == 1
    assert listed.json()["data"][0]["id"] == run["id"]
    one = await api.get(f"/api/accounting/exports/{run['id']}", headers=auth(accountant))
    assert one.json() == run
    missing = await api.get("/api/accounting/exports/99999/file", headers=auth(accountant))
    assert missing.status_code == 404
    unknown = await api.post(
        "/api/accounting/exports", json={**body, "package": "nope"}, headers=auth(accountant)
    )
    assert unknown.status_code == 422 and "sql_accounting" in unknown.json()["detail"]
    audit = await api.get(
        "/api/audit", params={"entity": "export_run", "entity_id": str(run["id"])}
    )
    assert [e["action"] for e in audit.json()["entries"]] == ["accounting.export"]


async def test_the_exports_page_confirms_lists_and_downloads(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    books(engine)
    accountant = await create_employee(api, ["accountant"])
    page = await staff_client(api, accountant["token"])
    listing = await page.get("/accounting/exports")
    assert listing.status_code == 200 and "No exports yet." in listing.text
    confirm = await page.get("/accounting/exports/new", params={"package": "emas", **PERIOD})
    assert confirm.status_code == 200 and 'data-testid="confirm-export"' in confirm.text
    assert "Export 6 documents" in confirm.text  # 1 customer, invoice, credit note, 3 payments
    # Without the confirmation nothing is exported.
    unconfirmed = await page.post("/accounting/exports", {"package": "emas", **PERIOD})
    assert unconfirmed.status_code == 303
    assert (await api.get("/api/accounting/exports")).json()["count"] == 0
    done = await page.post("/accounting/exports", {"package": "emas", "confirmed": "yes", **PERIOD})
    assert done.status_code == 303, done.text
    listing = await page.get(done.headers["location"])
    assert "Export 1 recorded" in listing.text and 'data-run="1"' in listing.text
    link = re.search(r'href="(/accounting/exports/1/file)"', listing.text)
    assert link is not None
    a, b = await page.get(link.group(1)), await page.get(link.group(1))
    assert a.status_code == 200 and a.content == b.content
    api_copy = await api.get("/api/accounting/exports/1/file")
    assert api_copy.content == a.content
    nothing = await page.get("/accounting/exports/new", params={"package": "emas", **PERIOD})
    assert 'data-testid="nothing-new"' in nothing.text
    refused = await page.post(
        "/accounting/exports", {"package": "emas", "confirmed": "yes", **PERIOD}
    )
    assert refused.status_code == 303
    shown = await page.get(refused.headers["location"])
    assert "Not exported: nothing new" in shown.text
    as_csv = await page.get("/accounting/exports.csv")
    assert as_csv.status_code == 200 and as_csv.text.splitlines()[1].startswith("1,emas,")
    await page.aclose()

    clerk = await create_employee(api, ["warehouse"])
    other = await staff_client(api, clerk["token"])
    assert (await other.get("/accounting/exports")).status_code == 403
    await other.aclose()
