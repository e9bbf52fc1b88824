"""Live pages re-fetch parts of themselves: a page's URL with ``?fragment=NAME`` answers
only its template's block ``NAME`` (rendered from the same view, so the part is exactly
what a reload would show). :class:`FragmentMiddleware` notes the asked block and the
page's own URL for the request; :func:`airkube.web.pages._render` reads them."""

from __future__ import annotations

from contextvars import ContextVar
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

FRAGMENT: ContextVar[str | None] = ContextVar("fragment", default=None)
"""The block the request asks for, None for the whole page."""
PAGE_URL: ContextVar[str] = ContextVar("page_url", default="")
"""The page's path and query (without ``fragment``)."""


def fragment_url(block: str) -> str:
    """The URL that answers block ``block`` of the page being rendered."""
    url = PAGE_URL.get()
    return f"{url}{'&' if '?' in url else '?'}{urlencode({'fragment': block})}"


class FragmentMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/ui/"):
            request = Request(scope)
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "fragment"]
            FRAGMENT.set(request.query_params.get("fragment"))
            PAGE_URL.set(request.url.path + (f"?{urlencode(rest)}" if rest else ""))
        await self.app(scope, receive, send)
