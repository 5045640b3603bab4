"""The interactive API docs (/docs, /redoc), served from the vendored bundles: they work offline.

The handlers are module-level and read the app from the request: FastAPI caches facts about
every endpoint callable it sees (bounded, but thousands), so a handler closing over its app
would keep that whole app alive after it is gone (one per test of the suite).
"""

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse

SWAGGER = "/static/vendor/swagger_ui"  # npm swagger-ui-dist@5.35.0
REDOC = "/static/vendor/redoc"  # npm redoc@2.5.4

router = APIRouter(include_in_schema=False)


def _spec_and_title(request: Request) -> tuple[str, str]:
    app: FastAPI = request.app
    # The page title; the spec shows `app.title` itself.
    return app.openapi_url or "/openapi.json", f"{app.title} API"


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    spec, title = _spec_and_title(request)
    return get_swagger_ui_html(
        openapi_url=spec,
        title=title,
        oauth2_redirect_url="/docs/oauth2-redirect",
        swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
    )


@router.get("/docs/oauth2-redirect")
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    spec, title = _spec_and_title(request)
    return get_redoc_html(
        openapi_url=spec,
        title=title,
        redoc_js_url=f"{REDOC}/redoc.standalone.js",
        redoc_favicon_url=f"{SWAGGER}/favicon-32x32.png",
        with_google_fonts=False,
    )


def install(app: FastAPI) -> None:
    """Serve Swagger UI at /docs and ReDoc at /redoc for the app's /openapi.json."""
    app.include_router(router)
