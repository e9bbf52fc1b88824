"""The FastAPI application: the JSON API, the pages, the vendored static files, and (for
the local server) the security middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware import Middleware

from airkube import __version__
from airkube.web import (
    actions_api,
    actions_pages,
    api,
    pages,
    records,
    streams,
    views_api,
    views_pages,
)
from airkube.web.csrf import CSRFMiddleware
from airkube.web.data import Cluster, DataError, History, KubeCluster
from airkube.web.fragments import FragmentMiddleware
from airkube.web.live import Hub, KubeWatchSource, WatchSource
from airkube.web.security import LocalSecurity, SecurityMiddleware
from airkube.web.service import Service


def create_app(
    cluster: Cluster,
    history: History | None,
    *,
    security: LocalSecurity | None = None,
    namespace: str = "default",
    user: str | None = None,
    guard: Middleware | None = None,
    watches: WatchSource | None = None,
    heartbeat: float = 15.0,
) -> FastAPI:
    """The server reading ``cluster`` and ``history`` (None: no metadata database).
    ``user``: who the actions are recorded as made by (the kubeconfig's user).

    ``security`` None serves anyone who reaches it: only for tests and behind a proxy
    that authenticates. ``guard``: a middleware that admits each request (the in-cluster
    server's authentication), inside the cross-site checks so that its pages carry the
    CSRF token. ``watches`` feeds the live streams (by default the cluster's own
    Kubernetes API); ``heartbeat`` is the seconds between an idle stream's keep-alives."""
    if watches is None and isinstance(cluster, KubeCluster):
        watches = KubeWatchSource(cluster.api_client)
    hub = None if watches is None else Hub(watches, heartbeat=heartbeat)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The shared watches live as long as the server: the served namespace's from the
        # start, others' from their first subscriber.
        if hub is not None:
            hub.start((namespace,))
        try:
            yield
        finally:
            if hub is not None:
                await anyio.to_thread.run_sync(hub.stop)

    app = FastAPI(
        lifespan=lifespan,
        title="airkube",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        # FastAPI's docs pages load their scripts from a CDN: nothing here loads anything
        # from outside, so the OpenAPI document is served alone.
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = Service(cluster, history, user)
    app.state.namespace = namespace
    app.state.hub = hub

    @app.exception_handler(DataError)
    async def data_error(request: Request, error: DataError) -> Response:
        # One line saying what is wrong: JSON for the API, a page for the pages.
        if request.url.path.startswith("/ui/"):
            return pages.error_page(error.status, str(error), app.state.namespace)
        return JSONResponse({"message": str(error)}, status_code=error.status)

    app.include_router(api.router)
    app.include_router(records.router)
    app.include_router(pages.router)
    app.include_router(actions_api.router)
    app.include_router(actions_pages.router)
    actions_api.add_error_handlers(app)
    app.include_router(streams.router)
    app.add_middleware(FragmentMiddleware)
    app.include_router(views_api.router)
    app.include_router(views_pages.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    # Every write is checked for a cross-site origin and this session's token (inside the
    # local server's guard, which is added last so that it runs first).
    if guard is not None:
        app.user_middleware.insert(0, guard)
    app.add_middleware(CSRFMiddleware)
    if security is not None:
        app.add_middleware(SecurityMiddleware, security=security)
    return app
