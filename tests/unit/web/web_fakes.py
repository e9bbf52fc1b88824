"""Fakes of the web server's data interfaces (airkube.web.data), and objects to fill them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airkube.store.records import StoredRun, StoredTaskLog, StoredTaskTry
from airkube.web.data import DataError

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def dag(name: str, tasks: list[dict[str, Any]] | None = None, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "data"},
        "spec": {
            "schedule": "@daily",
            "tasks": tasks
            or [
                {"name": "extract", "image": "busybox:1.36", "command": ["true"]},
                {
                    "name": "load",
                    "image": "busybox:1.36",
                    "command": ["true"],
                    "dependsOn": ["extract"],
                },
            ],
        },
        "status": status or None,
    }


def run(name: str, dag_name: str, state: str = "Succeeded", **tasks: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "data", "uid": f"uid-{name}"},
        "spec": {"dagRef": {"name": dag_name}, "runType": "manual", "logicalDate": T0.isoformat()},
        "status": {
            "state": state,
            "startTime": "2026-11-01T12:00:00Z",
            "endTime": "2026-11-01T12:01:00Z",
            "tasks": tasks,
        },
    }


def stored_run(name: str, dag_name: str, state: str = "Succeeded") -> StoredRun:
    return StoredRun(
        id=1,
        namespace="data",
        name=name,
        uid=f"uid-{name}",
        dag_name=dag_name,
        run_type="scheduled",
        logical_date=datetime(2026, 10, 1, tzinfo=UTC),
        state=state,
        data_interval_start=None,
        data_interval_end=None,
        params={},
        dag_version=None,
        start_time=datetime(2026, 10, 1, 0, 1, tzinfo=UTC),
        end_time=datetime(2026, 10, 1, 0, 2, tzinfo=UTC),
        message=None,
        clear_number=0,
        created_at=T0,
        updated_at=T0,
        resource_deleted_at=T0,
    )


def stored_try(task: str, n: int, state: str = "Succeeded", **more: Any) -> StoredTaskTry:
    fields: dict[str, Any] = dict(
        pod_name=f"pod-{task}-{n}",
        start_time=None,
        end_time=None,
        exit_code=0,
        output=None,
        message=None,
        reason=None,
        created_at=T0,
        updated_at=T0,
    )
    fields.update(more)
    return StoredTaskTry(task_name=task, try_number=n, state=state, **fields)


class FakeCluster:
    def __init__(self) -> None:
        self.dags: dict[str, dict[str, Any]] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self.pods: dict[tuple[str, str, int], dict[str, Any]] = {}
        self.logs: dict[str, str] = {}
        self.events_of: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.refuse: int | None = None

    def _check(self) -> None:
        if self.refuse is not None:
            raise DataError(self.refuse, "listing dags in namespace data: forbidden")

    def list_dags(self, namespace: str) -> list[dict[str, Any]]:
        self._check()
        return list(self.dags.values())

    def get_dag(self, namespace: str, name: str) -> dict[str, Any] | None:
        self._check()
        return self.dags.get(name)

    def list_runs(self, namespace: str) -> list[dict[str, Any]]:
        self._check()
        return list(self.runs.values())

    def get_run(self, namespace: str, name: str) -> dict[str, Any] | None:
        self._check()
        return self.runs.get(name)

    def try_pod(
        self, namespace: str, run: str, task: str, try_number: int, run_uid: str
    ) -> dict[str, Any] | None:
        return self.pods.get((run, task, try_number))

    def pod_log(self, namespace: str, pod: str) -> str | None:
        return self.logs.get(pod)

    def events(self, namespace: str, kind: str, name: str) -> list[dict[str, Any]]:
        return self.events_of.get((kind, name), [])

    def check_watch(self, namespace: str) -> None:
        self._check()

    def follow_pod_log(self, namespace: str, pod: str) -> FakeFollow:
        if pod not in self.logs:
            raise DataError(400, f"container task in pod {pod} is waiting to start")
        return FakeFollow(self.logs[pod].encode())


class FakeFollow:
    """A followed log that gives its text in one chunk, then ends."""

    def __init__(self, data: bytes) -> None:
        self.chunks = [data]
        self.closed = False

    def read(self) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""

    def close(self) -> None:
        self.closed = True


class FakeHistory:
    def __init__(self) -> None:
        self.runs: dict[str, StoredRun] = {}
        self.tries: dict[str, list[StoredTaskTry]] = {}
        self.logs: dict[tuple[str, str, int], bytes] = {}
        self.recent_queries = 0

    def list_runs(self, namespace: str, dag: str, limit: int) -> list[StoredRun]:
        return [r for r in self.runs.values() if r.dag_name == dag][:limit]

    def recent_runs(self, namespace: str, dags: list[str], per_dag: int) -> dict[str, list[Any]]:
        self.recent_queries += 1
        return {d: self.list_runs(namespace, d, per_dag) for d in dags}

    def get_run(self, namespace: str, run: str) -> StoredRun | None:
        return self.runs.get(run)

    def task_tries(self, namespace: str, run: str) -> list[StoredTaskTry]:
        return self.tries.get(run, [])

    def task_states(self, namespace: str, run: str) -> dict[str, tuple[str, int]]:
        return {t.task_name: (t.state, t.try_number) for t in self.tries.get(run, [])}

    def task_logs(self, namespace: str, run: str) -> list[StoredTaskLog]:
        return [
            StoredTaskLog(
                task_name=task,
                try_number=n,
                state="Stored",
                store="database",
                key=f"data/x/{r}/{task}/{n}",
                pod_name=None,
                node_name="node-1",
                size=len(data),
                cut_bytes=0,
                error=None,
                created_at=T0,
                updated_at=T0,
            )
            for (r, task, n), data in self.logs.items()
            if r == run
        ]

    def stored_log(self, namespace: str, run: str, task: str, try_number: int) -> bytes:
        data = self.logs.get((run, task, try_number))
        if data is None:
            raise DataError(404, f"no stored log of task {task} try {try_number} of run {run}")
        return data
