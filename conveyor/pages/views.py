"""Mounts the pages, their static files and the sign-in redirect on the app."""

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from conveyor.core.errors import DomainError
from conveyor.pages import (
    accounts,
    audit,
    auth,
    customer,
    documents,
    entry,
    inbox,
    insight,
    lists,
    master,
    orders,
    people,
    rules,
    settings,
    shop,
    stock,
)
from conveyor.pages.web import CsrfRefused, SignInRequired, login_redirect_url, render

STATIC_DIR = Path(str(files("conveyor.pages") / "static"))

router = APIRouter(include_in_schema=False)
# The newer modules first: their fixed paths (/orders/new, /customers/new) must match before
# the older modules' parametrised ones (/orders/{number}, /customers/{customer_id}).
NEW_FIRST = (entry, lists, master, stock, shop, documents, people, settings)
for module in (auth, inbox, *NEW_FIRST, orders, customer, accounts, insight, rules, audit):
    router.include_router(module.router)


async def _sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    url = login_redirect_url(exc.next_url)
    if request.headers.get("hx-request") == "true":
        # htmx follows HX-Redirect with a full page load instead of swapping the login form in.
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    detail = "This form is out of date (or did not come from Conveyor). Reload the page and retry."
    return render(request, "error.html", {"status": 403, "detail": detail}, status_code=403)


def domain_error_page(request: Request, exc: DomainError) -> Response:
    """A refusal from a service or flow that no page caught, as an error page."""
    return render(
        request, "error.html", {"status": exc.status, "detail": exc.message}, status_code=exc.status
    )


def install(app: FastAPI) -> None:
    """Add the HTML pages (same app, same services as the JSON API)."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
