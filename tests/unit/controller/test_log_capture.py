"""The operator's log capture (controller.logs) on a real SQLite store and a fake pods/log:
pod GC waits until a try's log settles; a stored log is capped and recorded; a failing
capture is retried, then recorded Failed with a Warning event and counted, never raised;
a restarted operator captures only the ended tries whose log is not stored yet."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from airkube.api.dagrun import TaskStatus
from airkube.api.states import TaskState
from airkube.controller import logs as capture_module
from airkube.controller.logs import LogCapture
from airkube.core.logs import LogKey
from airkube.core.model.observed import ObservedPod, PodPhase
from airkube.logstore import DatabaseLogStore
from airkube.store import RunRecord, Store, TaskTryRecord
from airkube.store.records import TaskLogRecord

NOW = datetime(2026, 3, 1, tzinfo=UTC)
KEY = ("data", "etl-1")
UID = "uid-1"
RUN_REF = {"apiVersion": "airkube.io/v1alpha1", "kind": "DAGRun", "metadata": {"name": "etl-1"}}


class FakeLog:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, size: int, decode_content: bool = True) -> Iterator[bytes]:
        for i in range(0, len(self.data), 7):
            yield self.data[i : i + 7]

    def release_conn(self) -> None:
        pass


class FakeCore:
    """pods/log: a log per pod, or an error to raise (a number of times)."""

    def __init__(self) -> None:
        self.logs: dict[str, bytes] = {}
        self.errors: dict[str, list[ApiException]] = {}
        self.reads: list[str] = []

    def read_namespaced_pod_log(self, name: str, namespace: str, **_: Any) -> FakeLog:
        self.reads.append(name)
        errors = self.errors.get(name)
        if errors:
            raise errors.pop(0)
        return FakeLog(self.logs[name])


class FakeKube:
    def __init__(self) -> None:
        self.core = FakeCore()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.from_url(f"sqlite:///{tmp_path}/airkube.db") as s:
        s.record_pass(
            RunRecord(
                namespace="data",
                name="etl-1",
                uid=UID,
                dag_name="etl",
                run_type="manual",
                logical_date=NOW,
                state="Running",
            ),
            [TaskTryRecord("fetch", 1, "UpForRetry"), TaskTryRecord("fetch", 2, "Running")],
            NOW,
        )
        yield s


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capture_module, "RETRY_DELAYS", (0.0, 0.0))


class Harness:
    def __init__(self, store: Store, cap: int = 1000) -> None:
        self.store = store
        self.kube = FakeKube()
        self.woken: list[tuple[Any, float]] = []
        self.warnings: list[tuple[str, str]] = []

        async def db(fn: Any, *args: Any) -> Any:
            return fn(*args)

        async def warn(run: Any, reason: str, note: str, key: str) -> None:
            self.warnings.append((reason, note))

        self.capture = LogCapture(
            kube=self.kube,  # type: ignore[arg-type]
            store=store,
            logstore=DatabaseLogStore(store),
            db=db,
            wake_after=lambda key, s: self.woken.append((key, s)),
            post_warning=warn,
            clock=lambda: NOW,
            cap=cap,
            concurrency=2,
        )

    async def track(self, pods: list[ObservedPod], tasks: dict[str, TaskStatus]) -> None:
        await self.capture.track(KEY, RUN_REF, "etl", UID, pods, tasks)

    async def settle(self) -> None:
        while self.capture.tasks:
            await asyncio.gather(*list(self.capture.tasks))


def pod(try_number: int, phase: PodPhase) -> ObservedPod:
    return ObservedPod(
        name=f"etl-1-fetch-{try_number}",
        task="fetch",
        try_number=try_number,
        phase=phase,
        node_name="node-a",
    )


TASKS = {"fetch": TaskStatus(state=TaskState.RUNNING, try_number=2)}


def test_pod_gc_waits_until_the_log_is_stored_then_it_is_read_back(store: Store) -> None:
    async def scenario() -> None:
        h = Harness(store, cap=100)
        first, second = pod(1, PodPhase.FAILED), pod(2, PodPhase.RUNNING)
        h.kube.core.logs[first.name] = b"".join(b"line %03d\n" % i for i in range(100))
        await h.track([first, second], TASKS)
        assert h.capture.collectable(UID, [first]) == ([], True)
        await h.settle()
        assert h.kube.core.reads == [first.name]  # the running try is left alone
        assert h.capture.collectable(UID, [first]) == ([first.name], False)
        assert (KEY, 0) in h.woken  # the run passes again and collects the pod
        (record,) = store.task_logs("data", "etl-1")
        assert (record.state, record.store, record.node_name, record.cut_bytes) == (
            "Stored",
            "database",
            "node-a",
            800,
        )
        kept = DatabaseLogStore(store).get(LogKey("data", "etl", "etl-1", "fetch", 1))
        assert kept is not None
        assert kept.startswith(b"line 000\n")
        assert kept.endswith(b"line 099\n")
        assert b"800 bytes of this log were cut" in kept
        assert h.capture.stored == 1
        await h.track([first, second], TASKS)  # settled: not captured twice
        await h.settle()
        assert h.kube.core.reads == [first.name]

    asyncio.run(scenario())


def test_a_failing_capture_is_retried_then_recorded_failed_with_a_warning(store: Store) -> None:
    async def scenario() -> None:
        h = Harness(store)
        first = pod(1, PodPhase.FAILED)
        h.kube.core.errors[first.name] = [ApiException(status=500, reason="boom")] * 3
        await h.track([first], TASKS)
        await h.settle()
        assert len(h.kube.core.reads) == 3  # the first try and its two retries
        (record,) = store.task_logs("data", "etl-1")
        assert record.state == "Failed"
        assert "boom" in (record.error or "")
        assert h.warnings
        assert h.warnings[0][0] == "LogNotStored"
        assert h.capture.failures == 1
        assert h.capture.collectable(UID, [first]) == ([first.name], False)

    asyncio.run(scenario())


def test_a_transient_failure_is_retried_and_stored(store: Store) -> None:
    async def scenario() -> None:
        h = Harness(store)
        first = pod(1, PodPhase.FAILED)
        h.kube.core.logs[first.name] = b"ok\n"
        h.kube.core.errors[first.name] = [ApiException(status=503, reason="busy")]
        await h.track([first], TASKS)
        await h.settle()
        (record,) = store.task_logs("data", "etl-1")
        assert record.state == "Stored"
        assert not h.warnings

    asyncio.run(scenario())


def test_a_pod_gone_before_its_log_was_read_is_recorded_missing(store: Store) -> None:
    async def scenario() -> None:
        h = Harness(store)
        first = pod(1, PodPhase.FAILED)
        h.kube.core.errors[first.name] = [ApiException(status=404, reason="NotFound")]
        await h.track([first], TASKS)
        await h.settle()
        (record,) = store.task_logs("data", "etl-1")
        assert record.state == "Missing"
        assert h.kube.core.reads == [first.name]  # not retried
        assert not h.warnings

    asyncio.run(scenario())


def test_a_restarted_operator_captures_only_the_logs_not_stored_yet(store: Store) -> None:
    store.record_task_log(
        "data", "etl-1", TaskLogRecord("fetch", 1, "Stored", store="database"), run_uid=UID
    )

    async def scenario() -> None:
        h = Harness(store)  # a new process: nothing in memory
        first, second = pod(1, PodPhase.FAILED), pod(2, PodPhase.SUCCEEDED)
        h.kube.core.logs[second.name] = b"second\n"
        assert h.capture.collectable(UID, [first]) == ([], True)  # not read yet
        await h.track([first, second], TASKS)
        assert h.capture.collectable(UID, [first, second]) == ([first.name], True)
        await h.settle()
        assert h.kube.core.reads == [second.name]
        assert h.capture.collectable(UID, [first, second]) == ([first.name, second.name], False)

    asyncio.run(scenario())
