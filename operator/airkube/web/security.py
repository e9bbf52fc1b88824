"""The local server's guard (``kubectl airkube ui``): only requests to the Host it listens
on, from no other Origin, carrying the session cookie that the one-time token in the
printed URL was exchanged for.

The token works once: the first request bearing it gets the cookie (HttpOnly,
SameSite=Strict) and a redirect to the same URL without it, so it stays out of history
and logs. A DNS-rebinding page fails the Host check; a cross-site form or fetch fails the
Origin check (and lacks the cookie).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "airkube_session"


@dataclass
class LocalSecurity:
    hosts: frozenset[str]
    """Accepted Host headers, with the port: ``127.0.0.1:8123``, ``localhost:8123``."""
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    session: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    token_used: bool = False

    @classmethod
    def for_port(cls, port: int) -> LocalSecurity:
        return cls(hosts=frozenset({f"127.0.0.1:{port}", f"localhost:{port}"}))

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(f"http://{h}" for h in self.hosts)

    def check(self, request: Request) -> Response | None:
        """The refusal for ``request``, or None when it may go on."""
        host = request.headers.get("host", "")
        if host not in self.hosts:
            return PlainTextResponse(
                f"refused: Host {host!r} is not this server's", status_code=403
            )
        origin = request.headers.get("origin")
        if origin is not None and origin not in self.origins:
            return PlainTextResponse(
                f"refused: requests from origin {origin!r} are not accepted", status_code=403
            )
        token = request.query_params.get("token")
        if token is not None:
            if self.token_used or not secrets.compare_digest(token, self.token):
                return PlainTextResponse(
                    "refused: this token is not valid or was used already; run "
                    "`kubectl airkube ui` again for a new URL",
                    status_code=401,
                )
            self.token_used = True
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
            answer = RedirectResponse(target, status_code=303)
            answer.set_cookie(COOKIE, self.session, httponly=True, samesite="strict", path="/")
            return answer
        cookie = request.cookies.get(COOKIE, "")
        if not secrets.compare_digest(cookie, self.session):
            return PlainTextResponse(
                "refused: no session; open the URL `kubectl airkube ui` printed",
                status_code=401,
            )
        return None


class SecurityMiddleware:
    """Applies :meth:`LocalSecurity.check` to every HTTP request."""

    def __init__(self, app: ASGIApp, security: LocalSecurity) -> None:
        self.app = app
        self.security = security

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self.security.check(Request(scope))
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)
