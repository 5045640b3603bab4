"""Every route × a caller of each role and clearance: allowed or 403, as the permission table says.

Generated from `conveyor.auth.permissions.GRANTS` and the permission each route declares, so a
new route that declares nothing, or a grant that changes, is caught here. Path ids name rows that
do not exist (an allowed caller then gets 404 or 422, never 401/403); employee ids are the
caller's own (the own-shift routes).
"""

import re

import httpx
import pytest
from fastapi import FastAPI

from conveyor.auth.permissions import GRANTS, Permission, Role, allows
from tests.utils.api import auth, create_employee
from tests.utils.pages import staff_client
from tests.utils.routes import Route, routes

# Routes that declare no permission, and why.
OPEN = {
    "/healthz": "health probe",
    "/webhooks/shopify": "signed by the store (tests/webhook)",
    "/webhooks/woocommerce": "signed by the store (tests/webhook)",
    "/webhooks/stripe": "signed by the payment provider (tests/webhook)",
    "/webhooks/carrier": "signed by the carrier (tests/shipping)",
    "/supplier/purchase-orders/{number}": "the signed link of the PO mail (tests/shipping)",
    "/": "redirects to the caller's start page",
    "/login": "signing in",
    "/logout": "signing out",
    "/orders/{number}": "staff and customers share the link: checked in the handler (below)",
}
# Pages for signed-in customers (their own records only: tests/pages/test_customer_*).
CUSTOMER_PAGE = re.compile(r"^/customer(/|$)|^/account/|^/shop(/|$)")
CLEARANCES = (1, 3, 5)
CALLERS = [(role, clearance) for role in Role if role is not Role.ADMIN for clearance in CLEARANCES]


def _url(route: Route, employee_id: int) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "employee_id":
            return str(employee_id)
        return "999999" if name.endswith("id") else "NOPE-404"

    return re.sub(r"\{(\w+)\}", fill, route.path)


def _app(api: httpx.AsyncClient) -> FastAPI:
    return api._transport.app  # type: ignore[attr-defined]


def test_every_route_declares_a_permission_or_says_why_not(api: httpx.AsyncClient) -> None:
    undeclared = [
        f"{r.method} {r.path}"
        for r in routes(_app(api))
        if r.permission is None and r.path not in OPEN and not CUSTOMER_PAGE.match(r.path)
    ]
    assert undeclared == []
    used = {r.permission for r in routes(_app(api))}
    # Every permission in the table guards a route, or is checked inside handlers (and tested
    # there): order terms (tests/auth), work per employee (the reports), refund approval
    # (tests/returns/test_approval.py).
    in_handlers = {
        Permission.ORDERS_TERMS,
        Permission.PRODUCTIVITY_VIEW,
        Permission.REFUNDS_APPROVE,
    }
    assert set(GRANTS) - used - in_handlers == set()


@pytest.mark.parametrize("role,clearance", CALLERS, ids=[f"{r}-{c}" for r, c in CALLERS])
async def test_each_route_allows_or_refuses_as_the_table_says(
    api: httpx.AsyncClient, role: Role, clearance: int
) -> None:
    employee = await create_employee(api, roles=[role], clearance=clearance)
    pages = await staff_client(api, employee["token"])
    wrong: list[str] = []
    try:
        for route in routes(_app(api)):
            if route.permission is None:
                continue
            allowed = allows(route.permission, [role], clearance)
            url = _url(route, employee["id"])
            if route.page:
                if route.method == "GET":
                    response = await pages.get(url)
                else:
                    response = await pages.post(url, {})
            else:
                response = await api.request(
                    route.method,
                    url,
                    headers=auth(employee),
                    json={} if route.method != "GET" else None,
                )
            refused = response.status_code == 403
            if response.status_code in (401, 500) or refused == allowed:
                wrong.append(
                    f"{route.method} {url} ({route.permission}): {response.status_code}, "
                    f"expected {'allowed' if allowed else 403}"
                )
    finally:
        await pages.aclose()
    assert wrong == []


async def test_the_admin_token_passes_every_permission(api: httpx.AsyncClient) -> None:
    refused = []
    for route in routes(_app(api)):
        if route.permission is None or route.page:
            continue
        response = await api.request(
            route.method, _url(route, 999999), json={} if route.method != "GET" else None
        )
        if response.status_code in (401, 403, 500):
            refused.append(f"{route.method} {route.path}: {response.status_code}")
    assert refused == []


async def test_the_order_page_needs_orders_view(api: httpx.AsyncClient) -> None:
    clerk = await create_employee(api, roles=["purchasing"], clearance=5)
    pages = await staff_client(api, clerk["token"])
    try:
        page = await pages.get("/orders/NOPE-404")
    finally:
        await pages.aclose()
    assert page.status_code == 403
    assert "orders.view" in page.text
