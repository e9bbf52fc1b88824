"""How a request finds the :class:`~airkube.web.service.Service` that answers it.

One place, so that how a request is served (the local server's one service, or in the
cluster a service that acts with the caller's own credentials) is decided once for the
API, the pages and the live streams."""

from __future__ import annotations

from fastapi import Request

from airkube.web.service import Service


def service(request: Request) -> Service:
    """The service answering ``request``: in the cluster, the one its user's token gave
    (set by :class:`airkube.web.incluster.InClusterMiddleware`); else the app's."""
    own: Service | None = getattr(request.state, "airkube_service", None)
    if own is not None:
        return own
    found: Service = request.app.state.service
    return found
