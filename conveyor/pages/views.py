"""Mounts the pages, their static files and the sign-in redirect on the app."""

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from conveyor.core.errors import DomainError
from conveyor.pages import (
    accounts,
    audit,
    auth,
    customer,
    customer_account,
    documents,
    entry,
    exports,
    inbox,
    insight,
    lists,
    mail_sink,
    master,
    messages,
    opportunities,
    orders,
    people,
    pos,
    product,
    purchasing,
    receivables,
    rules,
    settings,
    shipments,
    shop,
    stock,
    supplier,
    supplier_invoices,
)
from conveyor.pages.web import CsrfRefused, SignInRequired, login_redirect_url, render

STATIC_DIR = Path(str(files("conveyor.pages") / "static"))

router = APIRouter(include_in_schema=False)
# The newer modules first: their fixed paths (/orders/new, /customers/new) must match before
# the older modules' parametrised ones (/orders/{number}, /customers/{customer_id}).
NEW_FIRST = (
    entry,
    lists,
    mail_sink,
    master,
    stock,
    shop,
    customer_account,
    documents,
    people,
    pos,
    supplier_invoices,
    purchasing,
    receivables,
    settings,
    shipments,
)
# product after master: its /products/{sku} must not match /products/new first.
for module in (
    auth,
    inbox,
    *NEW_FIRST,
    messages,
    opportunities,
    orders,
    product,
    customer,
    accounts,
    exports,
    insight,
    rules,
    audit,
    supplier,
):
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


# Paths whose answers are JSON (or files) whatever went wrong: everything else is for people.
MACHINE_PATHS = ("/api/", "/webhooks/", "/healthz", "/openapi.json", "/static/")
HTTP_ERROR_TEXTS = {
    404: "There is no page at this address. It may have moved, or the link is mistyped.",
    405: "This address does not take that kind of request.",
}


def is_page_request(request: Request) -> bool:
    """True when a person's browser asked (an error gets a page), False for the API and files."""
    return not request.url.path.startswith(MACHINE_PATHS)


def http_error_page(request: Request, exc: StarletteHTTPException) -> Response:
    """A 404, 405, ... raised by routing or a page, as the designed error page."""
    detail = HTTP_ERROR_TEXTS.get(exc.status_code) or str(exc.detail)
    return render(
        request,
        "error.html",
        {"status": exc.status_code, "detail": detail},
        status_code=exc.status_code,
    )


def validation_error_page(request: Request, exc: RequestValidationError) -> Response:
    """A page's query or form value that is not what it takes: say which, in words, as a 422."""
    problems = []
    for error in exc.errors():
        where = [
            str(part) for part in error.get("loc", ()) if part not in ("query", "body", "path")
        ]
        name = (where[-1] if where else "value").replace("_", " ")
        problems.append(f"{name}: {error.get('msg', 'not accepted')}")
    return render(
        request,
        "error.html",
        {
            "status": 422,
            "detail": "Part of this request is not usable.",
            "problems": problems,
        },
        status_code=422,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if is_page_request(request):
        return http_error_page(request, exc)
    return await http_exception_handler(request, exc)


async def _server_error(request: Request, exc: Exception) -> Response:
    # Starlette still logs the exception and re-raises it to the server after this answer.
    if is_page_request(request):
        detail = (
            "Conveyor hit an error it did not expect. Nothing you entered was half-saved: "
            "each change is one transaction. Try again; if it keeps happening, tell your admin "
            "the time it happened."
        )
        return render(request, "error.html", {"status": 500, "detail": detail}, status_code=500)
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def install(app: FastAPI) -> None:
    """Add the HTML pages (same app, same services as the JSON API)."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _server_error)
