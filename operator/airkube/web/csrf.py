"""Protection against cross-site requests: no page of another site can make a user's
browser change anything here.

Every request that is not a GET, HEAD or OPTIONS (every write: the API's POST routes and
the pages' forms) must pass two checks, whatever else guards the server:

- its ``Origin`` (else its ``Referer``) names this server's own host: a browser sets it
  and a page cannot forge it; a write with neither is refused;
- it carries this session's CSRF token, in the ``X-CSRF-Token`` header (htmx sends it from
  the ``hx-headers`` of the page's body; API clients from ``GET /api/v1/csrf``) or in the
  ``csrf_token`` field of a form, equal to the token of the ``airkube_csrf`` cookie. The
  cookie is SameSite=Strict and HttpOnly, so another site's request does not carry it and
  its scripts cannot read it; the token is signed with this server's secret, so a cookie
  planted by a neighbouring host is not accepted either.

The token is made on a request that comes without a valid one (the cookie is set on its
answer) and is available to the templates as ``csrf_token()`` while a request is served.
GET never changes anything anywhere in the server, so it needs no token. A request with
an ``Authorization`` header (an API client's bearer token) needs none either: no page of
another site can send one without a CORS preflight, which this server never grants.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from contextvars import ContextVar
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "airkube_csrf"
HEADER = "X-CSRF-Token"
FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_FORM_BYTES = 1 << 20
"""A form bigger than this is refused (the action forms are a few KiB)."""

_current: ContextVar[str] = ContextVar("airkube_csrf_token", default="")


def current_token() -> str:
    """The CSRF token of the request being served ("" outside a request)."""
    return _current.get()


class CSRFTokens:
    """Tokens signed with a secret of this server: ``<nonce>.<signature>``."""

    def __init__(self, secret: bytes | None = None) -> None:
        self.secret = secret or secrets.token_bytes(32)

    def _sign(self, nonce: str) -> str:
        return hmac.new(self.secret, nonce.encode(), hashlib.sha256).hexdigest()[:32]

    def new(self) -> str:
        nonce = secrets.token_urlsafe(18)
        return f"{nonce}.{self._sign(nonce)}"

    def valid(self, token: str | None) -> bool:
        if not token or token.count(".") != 1:
            return False
        nonce, signature = token.split(".")
        return hmac.compare_digest(signature, self._sign(nonce))


def _refusal(path: str, message: str) -> Response:
    if path.startswith("/api/"):
        return JSONResponse({"message": message}, status_code=403)
    return PlainTextResponse(message, status_code=403)


def origin_problem(request: Request) -> str | None:
    """Why a write from ``request``'s origin is refused, or None when it comes from this
    server's own pages (its Origin, else Referer, names the Host it was sent to)."""
    host = request.headers.get("host", "")
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        if urlsplit(origin).netloc != host:
            return f"refused: a write from origin {origin!r} is not accepted (cross-site)"
        return None
    referer = request.headers.get("referer")
    if referer:
        if urlsplit(referer).netloc != host:
            return "refused: a write from another site's page is not accepted (cross-site)"
        return None
    return (
        "refused: a write must say where it comes from (an Origin or Referer header of this "
        "server's own address)"
    )


class CSRFMiddleware:
    """Applies the checks of the module docstring to every HTTP request, and hands each
    request its token (made, and set as a cookie, when it came without one)."""

    def __init__(self, app: ASGIApp, tokens: CSRFTokens | None = None) -> None:
        self.app = app
        self.tokens = tokens or CSRFTokens()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        cookie = request.cookies.get(COOKIE)
        token = cookie if self.tokens.valid(cookie) else None
        if request.method not in SAFE_METHODS and "authorization" not in request.headers:
            problem = origin_problem(request)
            submitted = request.headers.get(HEADER)
            if problem is None and submitted is None and _is_form(request):
                body = await _read_body(receive)
                if body is None:
                    problem = "refused: the form is too large"
                else:
                    receive = _replay(body, receive)
                    submitted = next(iter(parse_qs(body.decode("latin-1")).get(FIELD, [])), None)
            if problem is None and token is None:
                problem = (
                    "refused: no CSRF session cookie; reload the page (API clients: GET "
                    "/api/v1/csrf first)"
                )
            elif problem is None and (
                submitted is None or not hmac.compare_digest(submitted, token or "")
            ):
                problem = (
                    f"refused: missing or wrong CSRF token (send the {HEADER} header or the "
                    f"{FIELD} form field of this session)"
                )
            if problem is not None:
                await _refusal(request.url.path, problem)(scope, receive, send)
                return
        fresh = token is None
        current = token or self.tokens.new()
        secure = request.url.scheme == "https"

        async def send_with_cookie(message: Message) -> None:
            if fresh and message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                cookie = SimpleCookie()
                cookie[COOKIE] = current
                cookie[COOKIE]["path"] = "/"
                cookie[COOKIE]["httponly"] = True
                cookie[COOKIE]["samesite"] = "Strict"
                if secure:
                    cookie[COOKIE]["secure"] = True
                headers.append("set-cookie", cookie.output(header="").strip())
            await send(message)

        reset = _current.set(current)
        try:
            await self.app(scope, receive, send_with_cookie)
        finally:
            _current.reset(reset)


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind == "application/x-www-form-urlencoded"


async def _read_body(receive: Receive) -> bytes | None:
    """The request's body, or None when it is larger than :data:`MAX_FORM_BYTES`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, then: Receive) -> Receive:
    """A ``receive`` that gives the app the body already read, then what ``then`` gives
    (the client's disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await then()

    return receive
