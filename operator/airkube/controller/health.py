"""The operator's health: ``GET /healthz`` and one log line per change of it.

``/healthz`` answers 200 ``{"ok": true, ...}`` while the operator can work, and 503
``{"ok": false, "problem": "..."}`` while it cannot (today: its SQLite file was deleted or
replaced under it, see :meth:`airkube.store.Store.health`), so that Kubernetes restarts
it. kopf's own liveness endpoint can only fail by an exception in a probe handler, which
aiohttp logs with a traceback at every probe; hence an endpoint of our own (aiohttp, which
kopf serves its endpoint with too). A watch loop checks every few seconds even when no
one probes, and the ERROR line is logged once when a problem appears, not at every pass.
Both answers carry the operator's details too (the largest event-loop stall seen, see
:mod:`airkube.controller.loop_watch`). The same server answers the other ``routes`` it is
given: the operator's ``GET /metrics`` (:mod:`airkube.controller.metrics`), so that one
port serves the probe and Prometheus.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from aiohttp import web

log = logging.getLogger("airkube")

WATCH_EVERY_S: Final = 5.0
PATH: Final = "/healthz"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HealthServerError(Exception):
    """The health endpoint could not be served (e.g. its port is taken)."""


class Health:
    """What the operator says about its health, from ``check`` (None: fine, else why not)."""

    def __init__(
        self,
        check: Callable[[], str | None],
        details: Callable[[], dict[str, Any]] = dict,
        routes: Mapping[str, Handler] | None = None,
    ) -> None:
        self._check = check
        self._details = details
        self._routes = dict(routes or {})
        """More ``GET`` paths served on the same port."""
        self.problem: str | None = None
        self._runner: web.AppRunner | None = None

    async def refresh(self) -> str | None:
        """Check now (in a thread: the check may touch the disk); log a change once."""
        problem = await asyncio.to_thread(self._check)
        if problem != self.problem:
            if problem is not None:
                log.error("unhealthy: %s", problem)
            else:
                log.info("healthy again: %s no longer applies", self.problem)
        self.problem = problem
        return problem

    async def watch(self, every: float = WATCH_EVERY_S) -> None:
        """Check every ``every`` seconds until cancelled."""
        while True:
            await self.refresh()
            await asyncio.sleep(every)

    async def start(self, port: int, host: str = "0.0.0.0") -> int:
        """Serve ``GET /healthz`` (and the other routes) on ``port`` (0: any free one); the
        port it serves on."""
        app = web.Application()
        app.router.add_get(PATH, self._get)
        for path, handler in self._routes.items():
            app.router.add_get(path, handler)
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as e:
            await runner.cleanup()
            raise HealthServerError(
                f"cannot serve GET {PATH} on port {port}: {e.strerror}; choose another "
                "with --health-port (0: none)"
            ) from None
        self._runner = runner
        return int(runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _get(self, _request: web.Request) -> web.Response:
        problem = await self.refresh()
        if problem is None:
            return web.json_response({"ok": True, **self._details()})
        return web.json_response({"ok": False, "problem": problem, **self._details()}, status=503)
