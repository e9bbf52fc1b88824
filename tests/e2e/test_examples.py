"""Every example DAG in dags/, applied as it is and run to the end on the real node:
their containers really run, and what they print and write is what the tests check.

The test is parametrized over the directory (each YAML example, and each Python-only
one rendered by the SDK), so a new example is covered as soon as it is added: a DAG
without a schedule is triggered by hand once and, unless ``EXPECTED`` says otherwise,
must end Succeeded with every task Succeeded on its first try, with the outputs
``EXPECTED`` lists (and no output where it lists none). A scheduled example must say in
``EXPECTED`` which runs its schedule creates (a fixed window in the past, so the answer
never changes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from airkube.core.pods import CONTAINER_NAME
from airkube.sdk.loader import load_python

from .cluster import ROOT
from .operator_process import OperatorProcess
from .resources import TERMINAL, create_run, state, tasks, wait_dag, when
from .waiting import GROUP, VERSION, settled_pods, watch_run

PYTHON_ONLY = ("taskflow",)
"""Examples written only in Python (no YAML twin): rendered by the SDK, then applied."""
EXAMPLES = sorted(
    [*(ROOT / "dags").glob("*.yaml"), *(ROOT / "dags" / f"{n}.py" for n in PYTHON_ONLY)]
)
LOGICAL_DATE = "2024-06-01T00:00:00Z"
"""The logical date of the runs triggered by hand, so templates render the same always."""
ALL_UPSTREAM_RULES = ("all_success", "all_done", "none_failed", "none_skipped", "all_failed")
"""Trigger rules that wait for every upstream task to finish before the task starts."""


@dataclass(frozen=True)
class Expected:
    """How an example's runs end."""

    run: str = "Succeeded"
    """The final state of each run."""
    tasks: Mapping[str, str] = field(default_factory=dict)
    """Final task states; a task not listed ends Succeeded."""
    tries: Mapping[str, int] = field(default_factory=dict)
    """The try a task ended on; a task not listed that ran ended on its first."""
    scheduled: tuple[str, ...] = ()
    """The runs the schedule creates, oldest first; empty: the DAG is triggered by hand."""
    outputs: Mapping[str, str] = field(default_factory=dict)
    """What succeeded tasks wrote to /dev/termination-log; a task not listed wrote nothing."""
    logs: Mapping[str, str] = field(default_factory=dict)
    """A line each task's container printed (its last try's log)."""


EXPECTED: dict[str, Expected] = {
    "hello": Expected(logs={"say-hello": "Hello from airkube, task say-hello of run hello-1"}),
    "diamond": Expected(
        outputs={"extract": '{"rows": 42}'},
        logs={"extract": "extracting", "transform-a": "transforming a", "load": "loading"},
    ),
    # The outputs and logs documented at the top of dags/etl.yaml.
    "etl": Expected(
        outputs={
            "extract": '{"rows": 1000, "file": "raw/events.csv"}',
            "transform": '{"rows": 998, "file": "clean/events.csv"}',
            "load": "loaded 998 rows into warehouse.events",
        },
        logs={
            "extract": "extract --table events --day 2024-06-01 --limit 1000",
            "transform": (
                'transform {"rows": 1000, "file": "raw/events.csv"} for 2024-06-01 (run etl-1)'
            ),
            "load": (
                'load {"rows": 998, "file": "clean/events.csv"} into warehouse.events, '
                "partition 20240601"
            ),
        },
    ),
    "fan-out-fan-in": Expected(
        logs={"process-eu": "process-eu: region eu, day 2024-06-01", "merge": "merging 4 regions"}
    ),
    # The outputs of the @task functions, as dags/taskflow.py documents them.
    "taskflow": Expected(
        outputs={
            "extract": '{"table": "orders", "day": "2024-06-01", "orders": [12, 30, 7]}',
            "stats-total": "49",
            "stats-biggest": "30",
            "report": '"2024-06-01: 49 in all, the biggest 30"',
        },
        logs={
            "report": "2024-06-01: 49 in all, the biggest 30",
            # report's output as it is: the JSON of the string report returned.
            "notify": 'notifying: "2024-06-01: 49 in all, the biggest 30"',
        },
    ),
    # See the comment at the top of dags/retries.yaml for why each task ends so.
    "retries": Expected(
        run="Failed",
        tasks={
            "fetch-primary": "Failed",
            "fill-gaps": "Skipped",
            "compare-sources": "UpstreamFailed",
        },
        tries={"fetch-primary": 3},
        logs={
            "fetch-primary": "GET https://rates.example.com/2024-06-01",
            "fill-gaps": "no currency is missing: nothing to fill",
            "alert": "paging on-call: the primary rates API failed",
        },
    ),
    # 02:00 in Berlin is 01:00 UTC in January; startDate 1 Jan, endDate 3 Jan 2024.
    "scheduled-catchup": Expected(
        scheduled=(
            "daily-report-scheduled-20240101t010000",
            "daily-report-scheduled-20240102t010000",
            "daily-report-scheduled-20240103t010000",
        )
    ),
}


def load_dag(path: Path) -> dict[str, Any]:
    if path.suffix == ".py":
        loaded, problems = load_python(path)
        assert problems == [], problems
        docs = [d.resource for d in loaded]
    else:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert [d.get("kind") for d in docs] == ["DAG"], f"{path}: one DAG per example file"
    assert docs[0]["apiVersion"] == f"{GROUP}/{VERSION}", path
    dag: dict[str, Any] = docs[0]
    return dag


def finished(run: dict[str, Any]) -> bool:
    return state(run) in TERMINAL


def ready(dag: dict[str, Any]) -> bool:
    conditions = (dag.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def pods_by_task(core: client.CoreV1Api, namespace: str, run: str) -> dict[str, list[client.V1Pod]]:
    pods = settled_pods(core, namespace, f"airkube.io/run={run}")
    out: dict[str, list[client.V1Pod]] = {}
    for pod in sorted(pods, key=lambda p: int(p.metadata.labels["airkube.io/try"])):
        out.setdefault(pod.metadata.labels["airkube.io/task"], []).append(pod)
    return out


def container(pod: client.V1Pod) -> client.V1Container:
    return next(c for c in pod.spec.containers if c.name == CONTAINER_NAME)


def env_of(pod: client.V1Pod) -> dict[str, str]:
    return {e.name: e.value for e in container(pod).env or [] if e.value is not None}


def check_run(
    core: client.CoreV1Api,
    namespace: str,
    spec: dict[str, Any],
    run: dict[str, Any],
    expected: Expected,
) -> None:
    """The run's final state, each task's state and try, its outputs, its pods (one per
    try) and the order the dependencies impose."""
    name = run["metadata"]["name"]
    assert state(run) == expected.run, (name, run["status"])
    got = tasks(run)
    by_name = {t["name"]: t for t in spec["tasks"]}
    assert set(got) == set(by_name), (name, sorted(got))
    assert {t: got[t]["state"] for t in got} == {
        t: expected.tasks.get(t, "Succeeded") for t in by_name
    }, (name, run["status"])
    ran = {t for t, entry in got.items() if entry.get("podName")}
    assert {t: got[t]["tryNumber"] for t in ran} == {t: expected.tries.get(t, 1) for t in ran}

    # What each succeeded task wrote to /dev/termination-log is its output.
    for t, entry in got.items():
        if entry["state"] == "Succeeded":
            assert entry.get("output") == expected.outputs.get(t), (name, t, entry)

    # One pod per try, each ended as its try did (pods are kept: podGC Never), and its
    # container printed what the example says.
    pods = pods_by_task(core, namespace, name)
    for t, line in expected.logs.items():
        log = core.read_namespaced_pod_log(pods[t][-1].metadata.name, namespace)
        assert line in log.splitlines(), (name, t, log)
    assert {t: len(p) for t, p in pods.items()} == {t: got[t]["tryNumber"] for t in ran}, name
    for t, task_pods in pods.items():
        phases = [p.status.phase for p in task_pods]
        last = "Succeeded" if got[t]["state"] == "Succeeded" else "Failed"
        assert phases == ["Failed"] * (len(phases) - 1) + [last], (name, t, phases)

    # A task whose rule waits for all its upstream tasks started after they ended.
    for t in ran:
        if by_name[t].get("triggerRule", "all_success") not in ALL_UPSTREAM_RULES:
            continue
        for up in by_name[t].get("dependsOn") or ():
            if got[up].get("endTime"):
                assert when(got[t]["queuedTime"]) >= when(got[up]["endTime"]), (name, up, t)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_dag_runs_to_its_expected_end(
    path: Path,
    operator: OperatorProcess,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    real_namespace: str,
) -> None:
    namespace = real_namespace
    dag = load_dag(path)
    name, spec = dag["metadata"]["name"], dag["spec"]
    expected = EXPECTED.get(path.stem, Expected())
    if spec.get("schedule"):
        assert expected.scheduled, (
            f"{path.name} has a schedule: list the runs it creates in EXPECTED "
            "(keep its window in the past, with an endDate, so they never change)"
        )
    # The example as it is, except that its pods are kept so the test can read them.
    body = {**dag, "spec": {**spec, "podGC": {"strategy": "Never"}}}
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "dags", body)
    wait_dag(custom, namespace, name, ready)

    if expected.scheduled:
        runs = [watch_run(custom, namespace, r, finished, timeout=120) for r in expected.scheduled]
        listed = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "dagruns")
        assert sorted(r["metadata"]["name"] for r in listed["items"]) == sorted(expected.scheduled)
        assert all(r["spec"]["runType"] == "scheduled" for r in runs)
    else:
        create_run(custom, namespace, f"{name}-1", name, runType="manual", logicalDate=LOGICAL_DATE)
        runs = [watch_run(custom, namespace, f"{name}-1", finished, timeout=120)]

    for run in runs:
        check_run(core, namespace, spec, run, expected)
    extra = EXTRA_CHECKS.get(path.stem)
    if extra:
        extra(core, namespace, runs)


def check_etl(core: client.CoreV1Api, namespace: str, runs: list[dict[str, Any]]) -> None:
    """Outputs passed downstream, and the templates rendered with the run's date and the
    params' defaults."""
    (run,) = runs
    got = tasks(run)
    assert got["extract"]["output"] == '{"rows": 1000, "file": "raw/events.csv"}'
    assert got["transform"]["output"] == '{"rows": 998, "file": "clean/events.csv"}'
    assert got["load"]["output"] == "loaded 998 rows into warehouse.events"

    pods = {t: p[0] for t, p in pods_by_task(core, namespace, "etl-1").items()}
    extract, transform, load = pods["extract"], pods["transform"], pods["load"]
    assert container(extract).args == [
        "--table",
        "events",
        "--day",
        "2024-06-01",
        "--limit",
        "1000",
    ]
    assert env_of(extract)["DAY"] == "2024-06-01"
    assert env_of(extract)["RUN_ID"] == "etl-1"
    assert env_of(transform)["EXTRACTED"] == got["extract"]["output"]
    assert container(load).args == [
        got["transform"]["output"],
        "--into",
        "warehouse.events",
        "--partition",
        "20240601",
    ]


def check_fan_out(core: client.CoreV1Api, namespace: str, runs: list[dict[str, Any]]) -> None:
    """The four branches became ready together, and three started at once while the
    fourth waited for a slot (maxActiveTasks 3). Queued times come from the operator's
    clock, to the microsecond (the start and end times come from the pods, to the
    second)."""
    (run,) = runs
    got = tasks(run)
    queued = sorted(when(got[t]["queuedTime"]) for t in got if t.startswith("process-"))
    assert len(queued) == 4
    assert (queued[2] - queued[0]).total_seconds() < 0.3, queued
    # A slot frees up only when one of the first three pods has ended.
    ends = sorted(when(got[t]["endTime"]) for t in got if t.startswith("process-"))
    assert queued[3] >= ends[0].replace(microsecond=0), (queued, ends)


def check_retries(core: client.CoreV1Api, namespace: str, runs: list[dict[str, Any]]) -> None:
    """The failing task's exit code and message, and one_success not waiting for it."""
    (run,) = runs
    got = tasks(run)
    primary = got["fetch-primary"]
    assert primary["exitCode"] == 1
    assert "503 Service Unavailable" in primary["message"]
    assert got["fill-gaps"]["exitCode"] == 99
    # one_success: merge-rates started while fetch-primary was still being retried.
    assert when(got["merge-rates"]["queuedTime"]) < when(primary["endTime"])
    # one_failed: alert started only once fetch-primary's last try had failed.
    assert when(got["alert"]["queuedTime"]) >= when(primary["endTime"])
    assert run["status"]["reason"] == "TaskFailed"
    assert run["status"]["message"] == "tasks failed: fetch-primary", run["status"]


def check_catchup(core: client.CoreV1Api, namespace: str, runs: list[dict[str, Any]]) -> None:
    """Each interval's run, one after the other (maxActiveRuns 1), rendered with its own
    data interval."""
    for run in runs:
        spec = run["spec"]
        start, end = when(spec["dataIntervalStart"]), when(spec["dataIntervalEnd"])
        assert when(spec["logicalDate"]) == start
        assert (end - start).days == 1
        (extract,) = pods_by_task(core, namespace, run["metadata"]["name"])["extract"]
        assert container(extract).args == [str(start), str(end)]
    for before, after in pairwise(runs):
        assert when(after["status"]["startTime"]) >= when(before["status"]["endTime"])


EXTRA_CHECKS = {
    "etl": check_etl,
    "fan-out-fan-in": check_fan_out,
    "retries": check_retries,
    "scheduled-catchup": check_catchup,
}
