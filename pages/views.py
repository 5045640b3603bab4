"""Mounts the pages, their static files and the sign-in redirect on the app."""

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from pages import accounts, auth, customer, inbox, insight, orders, rules
from pages.web import SignInRequired, login_redirect_url

STATIC_DIR = Path(__file__).resolve().parent / "static"

router = APIRouter(include_in_schema=False)
for module in (auth, inbox, orders, customer, accounts, insight, rules):
    router.include_router(module.router)


async def _sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    url = login_redirect_url(exc.next_url)
    if request.headers.get("hx-request") == "true":
        # htmx follows HX-Redirect with a full page load instead of swapping the login form in.
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def install(app: FastAPI) -> None:
    """Add the HTML pages (same app, same services as the JSON API)."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(SignInRequired, _sign_in)
