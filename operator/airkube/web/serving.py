"""Running the app with uvicorn, for `kubectl airkube ui` and `airkube web` alike."""

from __future__ import annotations

from typing import Any

import uvicorn

GRACEFUL_SHUTDOWN_S = 2


class Server(uvicorn.Server):
    """uvicorn's server, which also ends the app's open live streams when told to stop:
    a stream never ends by itself, and uvicorn waits for every open response (every open
    browser tab) before it stops."""

    def handle_exit(self, sig: int, frame: Any) -> None:
        hub = getattr(getattr(self.config.app, "state", None), "hub", None)
        if hub is not None:
            hub.close_streams_threadsafe()
        super().handle_exit(sig, frame)


def server(app: Any, **config: Any) -> Server:
    """A :class:`Server` for ``app`` (quiet: warnings only, no access log)."""
    config.setdefault("log_level", "warning")
    config.setdefault("access_log", False)
    config.setdefault("timeout_graceful_shutdown", GRACEFUL_SHUTDOWN_S)
    return Server(uvicorn.Config(app, **config))
