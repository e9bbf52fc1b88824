"""How a request finds the :class:`~airkube.web.service.Service` that answers it.

One place, so that how a request is served (the local server's one service, or in the
cluster a service that acts with the caller's own credentials) is decided once for the
API, the pages and the live streams."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

from airkube.web.service import Service

if TYPE_CHECKING:
    from airkube.web.actions import Actions


def service(request: Request) -> Service:
    """The service answering ``request``."""
    found: Service = request.app.state.service
    return found


def actions(request: Request) -> Actions:
    """The write actions for ``request``'s user, through its service."""
    from airkube.web.actions import Actions

    return Actions(service(request))
