"""Settings > People over HTTP: the list (filters, sort, CSV), adding an employee, editing their
roles (found in the audit history), deactivation behind a confirmation, and the refusals."""

import csv
import io
import uuid

import httpx

from tests.conftest import ADMIN_TOKEN
from tests.utils.api import auth, create_employee
from tests.utils.pages import staff_client
from tests.utils.people import add_person, mailed_link


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}@people.example"


async def test_the_list_filters_by_role_and_active_sorts_and_exports_csv(
    api: httpx.AsyncClient, mailbox
) -> None:
    admin = await staff_client(api, ADMIN_TOKEN)
    picker = _email("picker")
    clerk = _email("clerk")
    await add_person(admin, name="Pia Picker", email=picker, roles=["warehouse"])
    clerk_id = await add_person(admin, name="Carl Clerk", email=clerk, roles=["accountant"])
    gone = await admin.post(f"/settings/people/{clerk_id}/deactivate", {"confirm": "yes"})
    assert gone.status_code == 303

    page = (await admin.get("/settings/people?role=warehouse")).text
    assert picker in page and clerk not in page
    page = (await admin.get("/settings/people?active=no")).text
    assert clerk in page and picker not in page and "deactivated" in page
    page = (await admin.get("/settings/people?q=pia")).text
    assert picker in page and clerk not in page
    ignored = (await admin.get("/settings/people?role=astronaut&sort=shoe")).text
    assert 'data-testid="list-notes"' in ignored and picker in ignored

    by_name = (await admin.get("/settings/people?sort=name&dir=asc")).text
    assert by_name.index("Carl Clerk") < by_name.index("Pia Picker")
    by_name_desc = (await admin.get("/settings/people?sort=name&dir=desc")).text
    assert by_name_desc.index("Pia Picker") < by_name_desc.index("Carl Clerk")

    export = await admin.get("/settings/people.csv?role=warehouse")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [(r["email"], r["roles"], r["active"]) for r in rows] == [(picker, "warehouse", "yes")]
    await admin.aclose()


async def test_adding_an_employee_mails_a_link_and_edits_show_in_the_history(
    api: httpx.AsyncClient, mailbox
) -> None:
    admin = await staff_client(api, ADMIN_TOKEN)
    form = (await admin.get("/settings/people/new")).text
    assert 'name="roles" value="order_desk"' in form and 'name="clearance"' in form
    email = _email("dora")
    answer = await admin.post(
        "/settings/people/new",
        {"name": "Dora Desk", "email": email, "roles": ["order_desk"], "clearance": "2"},
    )
    assert answer.status_code == 303
    employee_id = int(answer.headers["location"].rsplit("/", 1)[1])
    record = (await admin.get(answer.headers["location"])).text
    assert f"a one-time set-password link (valid 24 hours) was mailed to {email}" in record
    assert mailed_link(mailbox, email).startswith("http")
    employee = (await api.get(f"/api/employees/{employee_id}")).json()
    assert employee["roles"] == ["order_desk"] and employee["clearance"] == 2
    assert (await api.get(f"/api/employees/{employee_id}/tokens")).json() == []  # none unasked

    saved = await admin.post(
        f"/settings/people/{employee_id}",
        {"name": "Dora Desk", "email": email, "roles": ["order_desk", "credit"], "clearance": "3"},
    )
    assert saved.status_code == 303
    employee = (await api.get(f"/api/employees/{employee_id}")).json()
    assert employee["roles"] == ["credit", "order_desk"] and employee["clearance"] == 3
    record = (await admin.get(f"/settings/people/{employee_id}")).text
    history = record.split('data-testid="audit-history"', 1)[1]
    assert "employee.update" in history and "credit" in history
    assert "employee.create" in history and "employee.password_link_send" in history

    resent = await admin.post(f"/settings/people/{employee_id}/password-link")
    assert resent.status_code == 303
    assert mailed_link(mailbox, email, count=2)
    await admin.aclose()


async def test_deactivation_needs_the_box_ticked_and_ends_the_tokens(
    api: httpx.AsyncClient,
) -> None:
    admin = await staff_client(api, ADMIN_TOKEN)
    worker = await create_employee(api, ["warehouse"])
    plain = httpx.AsyncClient(transport=api._transport, base_url=str(api.base_url))
    shifts = f"/api/employees/{worker['id']}/attendance"
    assert (await plain.get(shifts, headers=auth(worker))).status_code == 200
    record = (await admin.get(f"/settings/people/{worker['id']}")).text
    assert 'data-testid="deactivate-form"' in record and 'name="confirm" value="yes"' in record

    unticked = await admin.post(f"/settings/people/{worker['id']}/deactivate")
    assert unticked.status_code == 303
    assert "tick the box to confirm" in (await admin.get(unticked.headers["location"])).text
    assert (await api.get(f"/api/employees/{worker['id']}")).json()["active"] is True

    done = await admin.post(f"/settings/people/{worker['id']}/deactivate", {"confirm": "yes"})
    assert done.status_code == 303
    assert (await api.get(f"/api/employees/{worker['id']}")).json()["active"] is False
    assert (await plain.get(shifts, headers=auth(worker))).status_code == 401
    record = (await admin.get(f"/settings/people/{worker['id']}")).text
    assert 'data-testid="deactivated"' in record and "employee.deactivate" in record

    back = await admin.post(f"/settings/people/{worker['id']}/reactivate")
    assert back.status_code == 303
    assert (await api.get(f"/api/employees/{worker['id']}")).json()["active"] is True
    assert (await plain.get(shifts, headers=auth(worker))).status_code == 401  # stays revoked
    await plain.aclose()
    await admin.aclose()


async def test_refusals_a_non_admin_a_taken_e_mail_an_unknown_role(
    api: httpx.AsyncClient, mailbox
) -> None:
    supervisor = await create_employee(api, ["supervisor"], clearance=5)
    boss = await staff_client(api, supervisor["token"])
    for url in ("/settings/people", "/settings/people.csv", "/settings/people/new"):
        page = await boss.get(url)
        assert page.status_code == 403, url
        assert "employees.manage" in page.text
    posted = await boss.post(
        "/settings/people/new", {"name": "X", "email": _email("x"), "roles": ["admin"]}
    )
    assert posted.status_code == 403
    assert (await boss.get(f"/settings/people/{supervisor['id']}")).status_code == 403
    await boss.aclose()

    admin = await staff_client(api, ADMIN_TOKEN)
    taken = await admin.post(
        "/settings/people/new",
        {"name": "Again", "email": supervisor["email"], "roles": ["sales"], "clearance": "1"},
    )
    assert taken.status_code == 422
    assert "already exists" in taken.text and 'value="Again"' in taken.text
    unknown = await admin.post(
        "/settings/people/new",
        {"name": "Role Play", "email": _email("rp"), "roles": ["astronaut"], "clearance": "1"},
    )
    assert unknown.status_code == 422 and "unknown role astronaut" in unknown.text
    bad_mail = await admin.post(
        "/settings/people/new", {"name": "No Mail", "email": "not-an-address", "clearance": "1"}
    )
    assert bad_mail.status_code == 422 and "field-error" in bad_mail.text
    edit = await admin.post(
        f"/settings/people/{supervisor['id']}",
        {"name": "", "email": supervisor["email"], "roles": ["supervisor"], "clearance": "5"},
    )
    assert edit.status_code == 422 and 'data-testid="tokens"' in edit.text
    assert mailbox.to(supervisor["email"]) == []
    assert (await admin.get("/settings/people/999999")).status_code == 404
    await admin.aclose()


async def test_an_admin_cannot_deactivate_themselves_and_token_days_are_checked(
    api: httpx.AsyncClient,
) -> None:
    me = await create_employee(api, ["admin"], clearance=5)
    admin = await staff_client(api, me["token"])
    refused = await admin.post(f"/settings/people/{me['id']}/deactivate", {"confirm": "yes"})
    assert refused.status_code == 303
    page = (await admin.get(refused.headers["location"])).text
    assert "Not deactivated: you cannot deactivate yourself" in page
    assert (await api.get(f"/api/employees/{me['id']}")).json()["active"] is True

    bad = await admin.post(f"/settings/people/{me['id']}/tokens", {"name": "x", "days": "0"})
    assert bad.status_code == 303
    assert "days must be 1 to 3650" in (await admin.get(bad.headers["location"])).text
    made = await admin.post(f"/settings/people/{me['id']}/tokens", {"name": "ci", "days": "7"})
    assert made.status_code == 200 and "expires 20" in made.text
    tokens = (await api.get(f"/api/employees/{me['id']}/tokens")).json()
    assert [t["name"] for t in tokens if t["expires_at"]] == ["ci"]
    await admin.aclose()
