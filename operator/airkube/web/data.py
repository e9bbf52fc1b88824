"""What the web server reads, behind two small interfaces so tests can give it fakes:
:class:`Cluster` (DAGs, DAGRuns, pods and their logs, from the Kubernetes API through a
client the app is given) and :class:`History` (runs, tries and stored logs from the
metadata database and the log store).

Both raise :class:`DataError` for what the server should answer with an error status
(a refusal, an unreachable server); a missing object is None, not an error.
"""

from __future__ import annotations

from typing import Any, Protocol

from airkube.store.records import RecentRun, StoredRun, StoredTaskLog, StoredTaskTry


class DataError(Exception):
    """A read failed; ``status`` is the HTTP status to answer with, the message one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Cluster(Protocol):
    def list_dags(self, namespace: str) -> list[dict[str, Any]]: ...

    def get_dag(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    def list_runs(self, namespace: str) -> list[dict[str, Any]]: ...

    def get_run(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    def try_pod(
        self, namespace: str, run: str, task: str, try_number: int, run_uid: str
    ) -> dict[str, Any] | None:
        """The pod of one try (as the API server's JSON), None when it is gone."""
        ...

    def pod_log(self, namespace: str, pod: str) -> str | None:
        """The log of the pod's task container, None when the pod is gone."""
        ...

    def check_watch(self, namespace: str) -> None:
        """Raise DataError unless these credentials may list the namespace's DAGRuns: the
        live streams (web.live) serve a namespace's changes only to those who could read them."""
        ...

    def follow_pod_log(self, namespace: str, pod: str) -> LogFollow:
        """The pod's task container log, followed while it runs (DataError when it cannot
        be read, e.g. the container has not started)."""
        ...

    def events(self, namespace: str, kind: str, name: str) -> list[dict[str, Any]]:
        """The Kubernetes events about one object (``kind`` DAGRun, Pod…), oldest first."""
        ...


class LogFollow(Protocol):
    """A followed log: :meth:`read` blocks until bytes arrive (b"" at its end); :meth:`close`
    from another thread ends a blocked read."""

    def read(self) -> bytes: ...

    def close(self) -> None: ...


class History(Protocol):
    def list_runs(self, namespace: str, dag: str, limit: int) -> list[StoredRun]: ...

    def recent_runs(
        self, namespace: str, dags: list[str], per_dag: int
    ) -> dict[str, list[RecentRun]]:
        """The newest ``per_dag`` runs of each of ``dags`` (one query for a page of DAGs)."""
        ...

    def get_run(self, namespace: str, run: str) -> StoredRun | None: ...

    def task_tries(self, namespace: str, run: str) -> list[StoredTaskTry]: ...

    def task_states(self, namespace: str, run: str) -> dict[str, tuple[str, int]]:
        """Each recorded task's latest try: (state, try number)."""
        ...

    def task_logs(self, namespace: str, run: str) -> list[StoredTaskLog]: ...

    def stored_log(self, namespace: str, run: str, task: str, try_number: int) -> bytes:
        """The stored log of one try; raises DataError(404) saying why there is none."""
        ...


class KubeCluster:
    """:class:`Cluster` through a kubernetes ``ApiClient`` (the user's own credentials)."""

    def __init__(self, api_client: Any) -> None:
        from kubernetes import client

        self.api_client = api_client
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        from airkube.kube.apply import api_message

        try:
            return fn(*args, **kwargs)
        except ApiException as e:
            if e.status == 404:
                return None
            status = e.status if e.status in (401, 403) else 502
            raise DataError(
                status, f"{what}: the Kubernetes API answered {e.status}: {api_message(e)}"
            ) from None
        except HTTPError as e:
            raise DataError(502, f"{what}: cannot reach the Kubernetes API: {e}") from None

    def _list(self, namespace: str, plural: str) -> list[dict[str, Any]]:
        from airkube.api import GROUP, VERSION

        body = self._call(
            f"listing {plural} in namespace {namespace}",
            self.custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            plural,
        )
        return list((body or {}).get("items") or [])

    def _get(self, namespace: str, plural: str, name: str) -> dict[str, Any] | None:
        from airkube.api import GROUP, VERSION

        body: dict[str, Any] | None = self._call(
            f"reading {plural[:-1]} {namespace}/{name}",
            self.custom.get_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            plural,
            name,
        )
        return body

    def list_dags(self, namespace: str) -> list[dict[str, Any]]:
        return self._list(namespace, "dags")

    def get_dag(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._get(namespace, "dags", name)

    def list_runs(self, namespace: str) -> list[dict[str, Any]]:
        return self._list(namespace, "dagruns")

    def get_run(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._get(namespace, "dagruns", name)

    def try_pod(
        self, namespace: str, run: str, task: str, try_number: int, run_uid: str
    ) -> dict[str, Any] | None:
        from airkube.logstore.reading import live_try_pod

        pod = self._call(
            f"listing the pods of run {namespace}/{run}",
            live_try_pod,
            self.core,
            namespace,
            run,
            task,
            try_number,
            run_uid,
        )
        if pod is None:
            return None
        body: dict[str, Any] = self.api_client.sanitize_for_serialization(pod)
        return body

    def pod_log(self, namespace: str, pod: str) -> str | None:
        from airkube.core.pods import CONTAINER_NAME

        text = self._call(
            f"reading the log of pod {namespace}/{pod}",
            self.core.read_namespaced_pod_log,
            pod,
            namespace,
            container=CONTAINER_NAME,
        )
        return None if text is None else str(text)

    # Writes (the actions: airkube.web.actions.Writes) -------------------------------------

    def _write(self, fn: Any, *args: Any) -> Any:
        from airkube.kube.writes import WriteError

        try:
            return fn(self.custom, *args)
        except WriteError as e:
            status = e.status if e.status in (401, 403, 404, 409, 422) else 502
            raise DataError(status, str(e)) from None

    def create_run(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        from airkube.kube.writes import create_dagrun

        created: dict[str, Any] = self._write(create_dagrun, namespace, body)
        return created

    def patch_run(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        from airkube.kube.writes import patch_dagrun

        patched: dict[str, Any] = self._write(patch_dagrun, namespace, name, patch)
        return patched

    def patch_dag(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        from airkube.kube.writes import patch_dag

        patched: dict[str, Any] = self._write(patch_dag, namespace, name, patch)
        return patched

    def delete_run(self, namespace: str, name: str) -> None:
        from airkube.kube.writes import delete_dagrun

        self._write(delete_dagrun, namespace, name)

    def check_watch(self, namespace: str) -> None:
        from airkube.api import GROUP, VERSION

        response = self._call(
            f"listing dagruns in namespace {namespace}",
            self.custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            "dagruns",
            limit=1,
            _preload_content=False,  # only whether it may: nothing is decoded
        )
        if response is not None:
            response.drain_conn()
            response.release_conn()

    def follow_pod_log(self, namespace: str, pod: str) -> LogFollow:
        from airkube.core.pods import CONTAINER_NAME

        response = self._call(
            f"following the log of pod {namespace}/{pod}",
            self.core.read_namespaced_pod_log,
            pod,
            namespace,
            container=CONTAINER_NAME,
            follow=True,
            _preload_content=False,
        )
        if response is None:
            raise DataError(404, f"pod {namespace}/{pod} no longer exists")
        return _FollowedLog(response)

    def events(self, namespace: str, kind: str, name: str) -> list[dict[str, Any]]:
        body = self._call(
            f"listing the events of {kind} {namespace}/{name}",
            self.core.list_namespaced_event,
            namespace,
            field_selector=f"involvedObject.kind={kind},involvedObject.name={name}",
        )
        if body is None:
            return []
        items: list[dict[str, Any]] = self.api_client.sanitize_for_serialization(body.items)
        return sorted(items, key=_event_time)


class _FollowedLog:
    def __init__(self, response: Any) -> None:
        self.response = response

    def read(self) -> bytes:
        from urllib3.exceptions import HTTPError

        try:
            data: bytes = self.response.read1(65536)
        except (HTTPError, OSError, ValueError):  # shut down by close(), or the node went away
            return b""
        return data

    def close(self) -> None:
        import contextlib

        with contextlib.suppress(Exception):
            self.response.shutdown()  # urllib3 2.3+: ends a read blocked in another thread
        with contextlib.suppress(Exception):
            self.response.close()  # and its connection: it is not reused


def _event_time(event: dict[str, Any]) -> str:
    return str(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or event.get("firstTimestamp")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )


class StoreHistory:
    """:class:`History` from a :class:`airkube.store.Store` and the log store."""

    def __init__(self, store: Any, s3: Any = None) -> None:
        self.store = store
        self.s3 = s3

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from airkube.store.errors import StoreError

        try:
            return fn(*args, **kwargs)
        except StoreError as e:
            raise DataError(503, f"the metadata database: {e}") from None

    def list_runs(self, namespace: str, dag: str, limit: int) -> list[StoredRun]:
        return list(self._call(self.store.list_runs, namespace, dag, limit))

    def recent_runs(
        self, namespace: str, dags: list[str], per_dag: int
    ) -> dict[str, list[RecentRun]]:
        found: dict[str, list[RecentRun]] = self._call(
            self.store.recent_runs, namespace, dags, per_dag
        )
        return found

    def get_run(self, namespace: str, run: str) -> StoredRun | None:
        found: StoredRun | None = self._call(self.store.get_run, namespace, run)
        return found

    def task_tries(self, namespace: str, run: str) -> list[StoredTaskTry]:
        return list(self._call(self.store.task_tries, namespace, run))

    def task_states(self, namespace: str, run: str) -> dict[str, tuple[str, int]]:
        found: dict[str, tuple[str, int]] = self._call(self.store.task_states, namespace, run)
        return found

    def task_logs(self, namespace: str, run: str) -> list[StoredTaskLog]:
        return list(self._call(self.store.task_logs, namespace, run))

    def stored_log(self, namespace: str, run: str, task: str, try_number: int) -> bytes:
        from airkube.logstore.reading import LogReadError, read_stored_log

        try:
            return read_stored_log(self.store, self.s3, namespace, run, task, try_number)
        except LogReadError as e:
            raise DataError(404, str(e)) from None
