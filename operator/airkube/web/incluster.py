"""The in-cluster server (``airkube web``): the app of :func:`airkube.web.app.create_app`
behind :class:`InClusterMiddleware`, which gives every request the service of its user
(:mod:`airkube.web.auth`), plus a login page for browsers and ``/healthz`` for probes.

A request without a token is answered 401: JSON for the API (with ``WWW-Authenticate:
Bearer``), the login page for the pages. The login page takes a token pasted by the user
(``kubectl create token``, or their kubeconfig's) and keeps it in a cookie: HttpOnly,
SameSite=Strict, and Secure when the request came over TLS. Login and logout are POSTs
accepted from this server's own pages only (Origin and Sec-Fetch-Site checked).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from airkube.web import context, pages
from airkube.web.app import create_app
from airkube.web.auth import Authenticator, AuthError, Session
from airkube.web.data import DataError
from airkube.web.live import WatchSource

TOKEN_COOKIE = "airkube_token"
OPEN_PATHS = ("/login", "/logout", "/healthz")
OPEN_PREFIXES = ("/static/",)
MAX_FORM_BYTES = 64 * 1024


def bearer_token(request: Request) -> str:
    """The request's token: its ``Authorization: Bearer`` header, else the login cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(TOKEN_COOKIE, "")


def _safe_next(target: str) -> str:
    """Where to go after logging in: a path on this server, never another site."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_page(request: Request, status: int, message: str = "", target: str = "/") -> Response:
    page = pages.env.get_template("login.html").render(
        ns=request.app.state.namespace, message=message, next=_safe_next(target)
    )
    return HTMLResponse(page, status_code=status)


class InClusterMiddleware:
    """Finds each request's session by its token, or refuses the request."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            session: Session = await run_in_threadpool(
                self.authenticator.session, bearer_token(request)
            )
        except DataError as e:
            await self._refusal(request, e)(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["airkube_service"] = session.service
        state["airkube_identity"] = session.identity
        with context.signing_in(session.identity):
            await self.app(scope, receive, send)

    def _refusal(self, request: Request, error: DataError) -> Response:
        if request.url.path.startswith("/api/"):
            headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
            return JSONResponse({"message": str(error)}, error.status, headers=headers)
        if isinstance(error, AuthError):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            # A first visit just shows the form; a token that failed says why.
            message = str(error) if bearer_token(request) else ""
            return login_page(request, 401, message, target)
        return pages.error_page(error.status, str(error), request.app.state.namespace)


def _same_site(request: Request) -> str | None:
    """Why a POST did not come from this server's own pages, or None when it did."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return f"refused: a {site} request cannot log in or out"
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    if origin is not None and origin != own:
        return f"refused: requests from origin {origin!r} are not accepted"
    return None


router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz() -> PlainTextResponse:
    return PlainTextResponse("ok")


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    return login_page(request, 200, target=next)


@router.post("/login")
async def login(request: Request) -> Response:
    refused = _same_site(request)
    if refused:
        return PlainTextResponse(refused, status_code=403)
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return login_page(request, 413, "the form is too large")
    form = parse_qs(body.decode(errors="replace"))
    token = (form.get("token") or [""])[0].strip()
    target = _safe_next((form.get("next") or ["/"])[0])
    authenticator: Authenticator = request.app.state.authenticator
    try:
        await run_in_threadpool(authenticator.session, token)
    except DataError as e:
        return login_page(request, e.status, str(e), target)
    answer = RedirectResponse(target, status_code=303)
    answer.set_cookie(
        TOKEN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return answer


@router.post("/logout")
def logout(request: Request) -> Response:
    refused = _same_site(request)
    if refused:
        return PlainTextResponse(refused, status_code=403)
    answer = RedirectResponse("/login", status_code=303)
    answer.delete_cookie(TOKEN_COOKIE, path="/", httponly=True, samesite="strict")
    return answer


class _NoCluster:
    """The app's default service reads nothing: in the cluster every request has its own."""

    def _refuse(self, *_: Any, **__: Any) -> Any:
        raise AuthError("no token: send the Authorization: Bearer header, or log in")

    list_dags = get_dag = list_runs = get_run = try_pod = pod_log = _refuse
    check_watch = follow_pod_log = create_run = patch_run = patch_dag = delete_run = events = (
        _refuse
    )


def create_incluster_app(
    authenticator: Authenticator, *, namespace: str = "default", watches: WatchSource | None = None
) -> FastAPI:
    """The in-cluster server: every request is served with its user's own token;
    ``watches`` (the server's own) feed the live streams."""
    app = create_app(
        _NoCluster(),
        None,
        namespace=namespace,
        watches=watches,
        guard=Middleware(InClusterMiddleware, authenticator=authenticator),
    )
    app.state.authenticator = authenticator
    app.include_router(router)
    return app
