"""The `kubectl airkube` plugin on a real API server: get, logs, clear, cancel, trigger."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import yaml
from kubernetes import client

from .cli import PLUGIN, airkube, plugin
from .cluster import Cluster
from .history import recorded
from .operator_process import OperatorProcess
from .resources import TERMINAL, apply_dag, events_of, sim, state, task, tasks
from .waiting import watch_run


def finished(run: dict[str, Any]) -> bool:
    return state(run) in TERMINAL


def task_states(run: dict[str, Any]) -> dict[str, tuple[str, int]]:
    return {name: (t["state"], t["tryNumber"]) for name, t in tasks(run).items()}


def test_plugin_shows_a_run_as_a_tree_prints_logs_and_clears_failed_tasks(
    operator: OperatorProcess,
    cluster: Cluster,
    api: client.ApiClient,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    assert shutil.which("kubectl-airkube", path=str(PLUGIN.parent)), PLUGIN
    apply_dag(
        custom,
        namespace,
        "flow",
        defaults={"podTemplate": sim(duration="200ms")},
        tasks=[
            task("extract", podTemplate=sim(duration="200ms", output="42")),
            task(
                "check",
                "extract",
                retries=1,
                retryDelay="1s",
                podTemplate=sim(duration="200ms", exit_code="3", message="bad rows"),
            ),
            task("load", "check"),
            task("tidy", "check", triggerRule="all_done"),
        ],
    )
    created = json.loads(airkube(cluster, namespace, "trigger", "flow", "-o", "json").stdout)
    name = created["metadata"]["name"]
    run = watch_run(custom, namespace, name, finished, timeout=60)
    assert state(run) == "Failed"
    assert task_states(run) == {
        "extract": ("Succeeded", 1),
        "check": ("Failed", 2),
        "load": ("UpstreamFailed", 0),
        "tidy": ("Succeeded", 1),
    }

    # get: the tree as text (plain: not a terminal), and the same data as JSON and YAML.
    text = airkube(cluster, namespace, "get", name).stdout
    assert "\x1b[" not in text
    lines = text.splitlines()
    assert any(line.startswith("State:") and "Failed (TaskFailed)" in line for line in lines)
    rows = {line.split()[0]: line for line in lines if line.split()}
    assert rows["extract"].split()[1:3] == ["Succeeded", "1"]
    check_row = next(line for line in lines if "─ check" in line)
    assert check_row.split()[2:4] == ["Failed", "2"], check_row
    assert "bad rows" in check_row
    assert any("─ load" in line and "UpstreamFailed" in line for line in lines), text
    view = json.loads(airkube(cluster, namespace, "get", name, "-o", "json").stdout)
    assert view == yaml.safe_load(airkube(cluster, namespace, "get", name, "-o", "yaml").stdout)
    by_task = {t["name"]: t for t in view["tasks"]}
    assert by_task["extract"]["output"] == "42"
    assert by_task["load"]["upstream"] == ["check"]

    # logs: the pod of the latest try, or of --try N (kwok serves hack/kwok/task.log).
    log = airkube(cluster, namespace, "logs", name, "check").stdout
    assert "kwok simulates this pod" in log
    # -f streams: the first line arrives while the stream stays open (kwok never ends it).
    cmd, env = plugin(cluster, namespace, "logs", name, "check", "--try", "1", "-f")
    follow = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert follow.stdout is not None
        assert "kwok simulates this pod" in follow.stdout.readline()
    finally:
        follow.kill()
        follow.wait()
    missing = airkube(cluster, namespace, "logs", name, "nope", check=False)
    assert missing.returncode == 1
    assert "has no task nope" in missing.stderr
    assert "Traceback" not in missing.stderr
    not_started = airkube(cluster, namespace, "logs", name, "load", check=False)
    assert "has not started a try yet (state UpstreamFailed)" in not_started.stderr

    # clear --failed: check and load run again, check with its retries afresh (tries 3, 4).
    dry = airkube(cluster, namespace, "clear", name, "--failed", "--dry-run").stdout
    assert dry.strip() == f"would clear in {name}: check, load"
    airkube(cluster, namespace, "clear", name, "--failed")
    run = watch_run(
        custom,
        namespace,
        name,
        lambda r: finished(r) and tasks(r)["check"]["tryNumber"] == 4,
        timeout=60,
    )
    assert state(run) == "Failed"
    assert task_states(run) == {
        "extract": ("Succeeded", 1),
        "check": ("Failed", 4),
        "load": ("UpstreamFailed", 0),
        "tidy": ("Succeeded", 1),
    }
    assert tasks(run)["check"]["maxTries"] == 4
    assert run["status"]["clearNumber"] == 1
    assert run["status"]["lastClearId"] == run["spec"]["clear"]["id"]
    cleared = [
        e.note for e in events_of(api, namespace, name, {"Cleared"}) if e.reason == "Cleared"
    ]
    assert cleared == ["cleared 2 tasks: check, load"], cleared
    stored, rows = recorded(custom, operator.db_url, namespace, name)
    tries = [(t.task_name, t.try_number, t.state) for t in rows]
    assert [t for t in tries if t[0] == "check"] == [
        ("check", 1, "UpForRetry"),
        ("check", 2, "Failed"),
        ("check", 3, "UpForRetry"),
        ("check", 4, "Failed"),
    ]
    assert stored is not None
    assert (stored.state, stored.clear_number) == ("Failed", 1)

    unknown = airkube(cluster, namespace, "clear", name, "--task", "nope", check=False)
    assert unknown.returncode == 1
    assert 'the run has no task "nope" to clear' in unknown.stderr


def test_plugin_cancels_a_run_and_clear_brings_it_back(
    operator: OperatorProcess,
    cluster: Cluster,
    custom: client.CustomObjectsApi,
    namespace: str,
) -> None:
    apply_dag(
        custom,
        namespace,
        "slow",
        tasks=[
            task("first", podTemplate=sim(duration="200ms")),
            task("wait", "first", podTemplate=sim(duration="1h")),
        ],
    )
    name = json.loads(airkube(cluster, namespace, "trigger", "slow", "-o", "json").stdout)[
        "metadata"
    ]["name"]
    watch_run(custom, namespace, name, lambda r: tasks(r).get("wait", {}).get("state") == "Running")
    assert "cancel requested" in airkube(cluster, namespace, "cancel", name).stdout
    run = watch_run(custom, namespace, name, finished)
    assert state(run) == "Cancelled"
    again = airkube(cluster, namespace, "cancel", name, check=False)
    assert again.returncode == 1
    assert "has already ended Cancelled" in again.stderr

    # Clearing a cancelled run lifts the cancel: the cleared task runs again as try 2.
    airkube(cluster, namespace, "clear", name, "--task", "wait")
    run = watch_run(
        custom,
        namespace,
        name,
        lambda r: tasks(r)["wait"]["tryNumber"] == 2 and tasks(r)["wait"]["state"] == "Running",
    )
    assert state(run) == "Running"
    assert run["spec"]["cancel"] is False
    assert tasks(run)["first"] == {**tasks(run)["first"], "state": "Succeeded", "tryNumber": 1}
    airkube(cluster, namespace, "cancel", name)
    assert state(watch_run(custom, namespace, name, finished)) == "Cancelled"
