"""The in-cluster server's authentication and authorization (``airkube web``).

Every request carries the user's own Kubernetes bearer token (an ``Authorization: Bearer``
header, as ``kubectl`` or an authenticating proxy sends it, or the cookie the login page
set). The server learns who the token belongs to with a SelfSubjectReview made *with that
token*, and answers the request from a :class:`~airkube.web.service.Service` whose every
Kubernetes call is made with it too: the API server's RBAC and audit apply unchanged, and
the server's own ServiceAccount never reads a resource for a user.

The metadata database has no RBAC of its own, so its views (history, recorded tries,
stored logs) are gated: the server's ServiceAccount asks a SubjectAccessReview whether the
user may ``list dagruns.airkube.io`` in the namespace, and a user who may not is refused
with 403.

Identities, per-user clients and review answers are cached for a few seconds by a hash of
the token (never the token itself as a key), so a page's several calls cost one review.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from airkube.store.records import RecentRun, StoredRun, StoredTaskLog, StoredTaskTry
from airkube.web.data import Cluster, DataError, History, KubeCluster
from airkube.web.service import Service

GROUP = "airkube.io"
HISTORY_VERB = "list"
HISTORY_RESOURCE = "dagruns"
"""Who may list a namespace's DAGRuns may read its history in the metadata database."""


class AuthError(DataError):
    """No identity for the request: 401 (no token, or a token the API server refused)."""

    def __init__(self, message: str) -> None:
        super().__init__(401, message)


class ForbiddenError(DataError):
    def __init__(self, message: str) -> None:
        super().__init__(403, message)


@dataclass(frozen=True)
class Identity:
    """Who a token belongs to, as the API server's SelfSubjectReview says."""

    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()


class Backend(Protocol):
    """The Kubernetes calls authentication needs (a fake in unit tests)."""

    def who_is(self, token: str) -> Identity:
        """A SelfSubjectReview made with ``token``; AuthError when the token is refused."""
        ...

    def may(self, who: Identity, verb: str, resource: str, namespace: str) -> bool:
        """A SubjectAccessReview made by the server's own ServiceAccount."""
        ...

    def cluster_for(self, token: str) -> Cluster:
        """A :class:`Cluster` whose every call is made with ``token``."""
        ...


@dataclass(frozen=True)
class Session:
    identity: Identity
    service: Service


class GatedHistory:
    """A :class:`History` that asks ``gate`` first, for the namespace of every read."""

    def __init__(self, history: History, gate: Callable[[str], None]) -> None:
        self.history = history
        self.gate = gate

    def list_runs(self, namespace: str, dag: str, limit: int) -> list[StoredRun]:
        self.gate(namespace)
        return self.history.list_runs(namespace, dag, limit)

    def get_run(self, namespace: str, run: str) -> StoredRun | None:
        self.gate(namespace)
        return self.history.get_run(namespace, run)

    def task_tries(self, namespace: str, run: str) -> list[StoredTaskTry]:
        self.gate(namespace)
        return self.history.task_tries(namespace, run)

    def recent_runs(
        self, namespace: str, dags: list[str], per_dag: int
    ) -> dict[str, list[RecentRun]]:
        self.gate(namespace)
        return self.history.recent_runs(namespace, dags, per_dag)

    def task_states(self, namespace: str, run: str) -> dict[str, tuple[str, int]]:
        self.gate(namespace)
        return self.history.task_states(namespace, run)

    def task_logs(self, namespace: str, run: str) -> list[StoredTaskLog]:
        self.gate(namespace)
        return self.history.task_logs(namespace, run)

    def stored_log(self, namespace: str, run: str, task: str, try_number: int) -> bytes:
        self.gate(namespace)
        return self.history.stored_log(namespace, run, task, try_number)


def token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Authenticator:
    """Tokens to sessions, and the database gate, with a short cache of both."""

    def __init__(
        self,
        backend: Backend,
        history: History | None,
        *,
        ttl: float = 30.0,
        max_entries: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.history = history
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, tuple[float, Session]] = OrderedDict()
        self._reviews: OrderedDict[tuple[Identity, str, str, str], tuple[float, bool]] = (
            OrderedDict()
        )

    def _cached(self, cache: OrderedDict[Any, tuple[float, Any]], key: Any) -> Any:
        with self._lock:
            found = cache.get(key)
            if found is None:
                return None
            if found[0] <= self.clock():
                del cache[key]
                return None
            cache.move_to_end(key)
            return found[1]

    def _keep(self, cache: OrderedDict[Any, tuple[float, Any]], key: Any, value: Any) -> None:
        with self._lock:
            cache[key] = (self.clock() + self.ttl, value)
            cache.move_to_end(key)
            while len(cache) > self.max_entries:
                cache.popitem(last=False)

    def session(self, token: str) -> Session:
        """The session of ``token``: who it is, and a service acting with it."""
        if not token:
            raise AuthError("no token: send the Authorization: Bearer header, or log in")
        key = token_key(token)
        found: Session | None = self._cached(self._sessions, key)
        if found is not None:
            return found
        identity = self.backend.who_is(token)
        history = (
            None
            if self.history is None
            else GatedHistory(self.history, lambda ns: self.require_history(identity, ns))
        )
        service = Service(self.backend.cluster_for(token), history, identity.username)
        made = Session(identity, service)
        self._keep(self._sessions, key, made)
        return made

    def allowed(self, who: Identity, verb: str, resource: str, namespace: str) -> bool:
        key = (who, verb, resource, namespace)
        found: bool | None = self._cached(self._reviews, key)
        if found is None:
            found = self.backend.may(who, verb, resource, namespace)
            self._keep(self._reviews, key, found)
        return found

    def require(
        self, who: Identity, verb: str, resource: str, namespace: str, needed_by: str = ""
    ) -> None:
        """Raises ForbiddenError unless ``who`` may ``verb`` ``resource`` in ``namespace``."""
        if not self.allowed(who, verb, resource, namespace):
            raise ForbiddenError(
                f'forbidden: user "{who.username}" cannot {verb} resource '
                f'"{resource}.{GROUP}" in namespace "{namespace}"'
                + (f", which {needed_by} needs" if needed_by else "")
            )

    def require_history(self, who: Identity, namespace: str) -> None:
        """Raises ForbiddenError unless ``who`` may read ``namespace``'s history."""
        self.require(
            who,
            HISTORY_VERB,
            HISTORY_RESOURCE,
            namespace,
            "the history in the metadata database",
        )


class KubeBackend:
    """:class:`Backend` through the Kubernetes API: ``server`` is the server's own
    client Configuration (its ServiceAccount), used only for SubjectAccessReviews; a
    user's calls go through a fresh Configuration with the server's address and CA and
    the user's token, and nothing else of the server's credentials."""

    def __init__(self, server: Any, *, pool_size: int = 8) -> None:
        from kubernetes import client

        self.server = server
        self.pool_size = pool_size
        self.authorization = client.AuthorizationV1Api(client.ApiClient(server))

    def _user_client(self, token: str) -> Any:
        from kubernetes import client

        cfg = client.Configuration()
        cfg.host = self.server.host
        cfg.ssl_ca_cert = self.server.ssl_ca_cert
        cfg.verify_ssl = self.server.verify_ssl
        cfg.assert_hostname = self.server.assert_hostname
        cfg.tls_server_name = getattr(self.server, "tls_server_name", None)
        cfg.proxy = self.server.proxy
        cfg.api_key = {"authorization": token}
        cfg.api_key_prefix = {"authorization": "Bearer"}
        cfg.connection_pool_maxsize = self.pool_size
        return client.ApiClient(cfg)

    def who_is(self, token: str) -> Identity:
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        from airkube.kube.apply import api_message

        api = client.AuthenticationV1Api(self._user_client(token))
        try:
            review = api.create_self_subject_review(
                client.V1SelfSubjectReview.model_validate(
                    {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
                )
            )
        except ApiException as e:
            if e.status == 401:
                raise AuthError(
                    "the Kubernetes API did not accept this token (401): log in again "
                    "with a valid one"
                ) from None
            raise DataError(
                403 if e.status == 403 else 502,
                f"asking the Kubernetes API who this token is: it answered {e.status}: "
                f"{api_message(e)}",
            ) from None
        except HTTPError as e:
            raise DataError(502, f"cannot reach the Kubernetes API: {e}") from None
        info = review.status.user_info if review.status else None
        if info is None or not info.username:
            raise AuthError("the Kubernetes API did not say who this token belongs to")
        return Identity(
            username=info.username,
            uid=info.uid or "",
            groups=tuple(info.groups or ()),
            extra=tuple(sorted((k, tuple(v or ())) for k, v in (info.extra or {}).items())),
        )

    def may(self, who: Identity, verb: str, resource: str, namespace: str) -> bool:
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        from airkube.kube.apply import api_message

        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": who.username,
                "uid": who.uid or None,
                "groups": list(who.groups),
                "extra": {k: list(v) for k, v in who.extra},
                "resourceAttributes": {
                    "namespace": namespace,
                    "verb": verb,
                    "group": GROUP,
                    "resource": resource,
                },
            },
        }
        try:
            review = self.authorization.create_subject_access_review(
                client.V1SubjectAccessReview.model_validate(body)
            )
        except ApiException as e:
            raise DataError(
                502,
                f"checking whether {who.username} may {verb} {resource} in namespace "
                f"{namespace}: the Kubernetes API answered {e.status}: {api_message(e)}",
            ) from None
        except HTTPError as e:
            raise DataError(502, f"cannot reach the Kubernetes API: {e}") from None
        return review.status is not None and bool(review.status.allowed)

    def cluster_for(self, token: str) -> Cluster:
        return KubeCluster(self._user_client(token))
