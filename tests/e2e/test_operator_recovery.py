"""Restart safety, history limits and bounded status, on a real API server."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections import Counter
from typing import Any

from kubernetes import client

from .history import recorded
from .operator_process import OperatorProcess
from .resources import TERMINAL, apply_dag, create_run, sim, state, task, tasks
from .waiting import GROUP, VERSION, watch_run


def finished(run: dict[str, Any]) -> bool:
    return state(run) in TERMINAL


def test_operator_killed_repeatedly_finishes_every_run_without_a_second_pod_per_try(
    operator: OperatorProcess,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    fan = [f"b{i}" for i in range(6)]
    apply_dag(
        custom,
        namespace,
        "sturdy",
        defaults={"podTemplate": sim(duration="700ms")},
        tasks=[task("a"), *(task(b, "a") for b in fan), task("c", *fan), task("d", "c")],
    )
    create_run(custom, namespace, "sturdy-1", "sturdy")
    rng = random.Random(7)
    try:
        for _ in range(4):
            # SIGKILL at an arbitrary moment of the run, then start again on the same DB.
            deadline = time.monotonic() + rng.uniform(0.2, 1.5)
            while time.monotonic() < deadline:
                time.sleep(0.05)
            operator.kill()
            operator.start()
    finally:
        if operator.proc is None:
            operator.start()
    run = watch_run(custom, namespace, "sturdy-1", finished, timeout=90)

    assert state(run) == "Succeeded", run["status"]
    assert {name: t["tryNumber"] for name, t in tasks(run).items()} == dict.fromkeys(
        ["a", *fan, "c", "d"], 1
    )
    # One pod per try: kube-scheduler bound every pod name exactly once.
    scheduled = core.list_namespaced_event(namespace, field_selector="reason=Scheduled").items
    per_pod = Counter(e.involved_object.name for e in scheduled)
    assert len(per_pod) == 9, per_pod
    assert set(per_pod.values()) == {1}, per_pod
    stored_run, stored = recorded(custom, operator.db_url, namespace, "sturdy-1")
    assert sorted((t.task_name, t.try_number, t.state) for t in stored) == sorted(
        (name, 1, "Succeeded") for name in ["a", *fan, "c", "d"]
    )
    assert stored_run is not None
    assert stored_run.state == "Succeeded"


def test_history_limits_delete_old_runs_and_the_database_keeps_them(
    operator: OperatorProcess, custom: client.CustomObjectsApi, namespace: str
) -> None:
    apply_dag(
        custom,
        namespace,
        "often",
        successfulRunsHistoryLimit=1,
        failedRunsHistoryLimit=1,
        defaults={"podTemplate": sim(duration="100ms")},
        tasks=[task("only")],
    )
    for i in range(3):
        create_run(custom, namespace, f"often-{i}", "often")
        watch_run(custom, namespace, f"often-{i}", finished, timeout=60)

    deadline = time.monotonic() + 30
    while True:
        left = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "dagruns")["items"]
        if len(left) == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [r["metadata"]["name"] for r in left] == ["often-2"]

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "airkube.cli.main",
            "history",
            "often",
            "-n",
            namespace,
            "--db-url",
            operator.db_url,
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    history = {r["name"]: r for r in json.loads(out.stdout)}
    assert set(history) == {"often-0", "often-1", "often-2"}
    assert all(r["state"] == "Succeeded" for r in history.values())
    assert [n for n, r in sorted(history.items()) if r["resourceDeleted"]] == ["often-0", "often-1"]


def test_status_of_a_5000_task_run_stays_under_256_kib(
    operator: OperatorProcess, custom: client.CustomObjectsApi, namespace: str
) -> None:
    names = [f"t{i:04d}" for i in range(5000)]
    apply_dag(
        custom,
        namespace,
        "huge",
        maxActiveTasks=200,
        defaults={"podTemplate": sim(duration="50ms", output="x" * 200)},
        tasks=[task(n) for n in names],
    )
    create_run(custom, namespace, "huge-1", "huge")
    sizes: list[int] = []

    def omitted_under_budget(run: dict[str, Any]) -> bool:
        sizes.append(len(json.dumps(run).encode()))
        return ((run.get("status") or {}).get("tasksOmitted") or 0) > 0

    run = watch_run(custom, namespace, "huge-1", omitted_under_budget, timeout=240)
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, "dagruns", "huge-1", {"spec": {"cancel": True}}
    )
    status = run["status"]
    assert status["counts"]["total"] == 5000
    assert status["tasksOmitted"] + len(status["tasks"]) == 5000
    assert max(sizes) < 256 * 1024, max(sizes)
    run = watch_run(custom, namespace, "huge-1", finished, timeout=120)
    assert len(json.dumps(run).encode()) < 256 * 1024
