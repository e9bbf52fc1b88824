"""How a request finds the :class:`~airkube.web.service.Service` that answers it.

One place, so that how a request is served (the local server's one service, or in the
cluster a service that acts with the caller's own credentials) is decided once for the
API, the pages and the live streams."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from fastapi import Request

from airkube.web.auth import Authenticator, Identity
from airkube.web.service import Service

if TYPE_CHECKING:
    from airkube.web.actions import Actions


def service(request: Request) -> Service:
    """The service answering ``request``: in the cluster, the one its user's token gave
    (set by :class:`airkube.web.incluster.InClusterMiddleware`); else the app's."""
    own: Service | None = getattr(request.state, "airkube_service", None)
    if own is not None:
        return own
    found: Service = request.app.state.service
    return found


_signed_in: ContextVar[Identity | None] = ContextVar("airkube_signed_in", default=None)


def signed_in() -> Identity | None:
    """Who the request being served is for, in the cluster (None on the local server and
    outside a request): what the pages' header shows, with a Log out button."""
    return _signed_in.get()


@contextmanager
def signing_in(who: Identity) -> Iterator[None]:
    """The in-cluster middleware serves a request within this, once it knows its user."""
    reset = _signed_in.set(who)
    try:
        yield
    finally:
        _signed_in.reset(reset)


def identity(request: Request) -> Identity | None:
    """Who is asking, in the cluster (as their token's SelfSubjectReview said); None on the
    local server, where the one user is the kubeconfig's. What a write should record as
    the user who made it."""
    found: Identity | None = getattr(request.state, "airkube_identity", None)
    return found


def require(request: Request, verb: str, resource: str, namespace: str) -> None:
    """In the cluster, raises :class:`~airkube.web.auth.ForbiddenError` (403) unless the
    request's user may ``verb`` ``resource``.airkube.io in ``namespace`` (a
    SubjectAccessReview, cached briefly); on the local server it allows everything.

    For what the server reads with its own credentials rather than the user's, such as
    events from a watch shared by every browser: check before serving them."""
    who = identity(request)
    authenticator: Authenticator | None = getattr(request.app.state, "authenticator", None)
    if who is not None and authenticator is not None:
        authenticator.require(who, verb, resource, namespace)


def actions(request: Request) -> Actions:
    """The write actions for ``request``'s user, through its service."""
    from airkube.web.actions import Actions

    return Actions(service(request))
