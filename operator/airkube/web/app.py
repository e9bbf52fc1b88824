"""The FastAPI application: the JSON API, the pages, the vendored static files, and (for
the local server) the security middleware."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from airkube import __version__
from airkube.web import api, pages, views_api, views_pages
from airkube.web.data import Cluster, DataError, History
from airkube.web.security import LocalSecurity, SecurityMiddleware
from airkube.web.service import Service


def create_app(
    cluster: Cluster,
    history: History | None,
    *,
    security: LocalSecurity | None = None,
    namespace: str = "default",
) -> FastAPI:
    """The server reading ``cluster`` and ``history`` (None: no metadata database).

    ``security`` None serves anyone who reaches it: only for tests and behind a proxy
    that authenticates."""
    app = FastAPI(
        title="airkube",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        # FastAPI's docs pages load their scripts from a CDN: nothing here loads anything
        # from outside, so the OpenAPI document is served alone.
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = Service(cluster, history)
    app.state.namespace = namespace

    @app.exception_handler(DataError)
    async def data_error(request: Request, error: DataError) -> Response:
        # One line saying what is wrong: JSON for the API, a page for the pages.
        if request.url.path.startswith("/ui/"):
            return pages.error_page(error.status, str(error), app.state.namespace)
        return JSONResponse({"message": str(error)}, status_code=error.status)

    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(views_api.router)
    app.include_router(views_pages.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    if security is not None:
        app.add_middleware(SecurityMiddleware, security=security)
    return app
