"""`airkube apply` on a real API server: the examples of dags/ (YAML and Python) applied
with server-side apply, a run of the Python-only example triggered to success, re-applying
changing nothing, a bad file applying nothing, and --prune deleting the DAG whose files
were removed (and only DAGs airkube apply manages)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from airkube.api import DAGSpec
from airkube.cli.dagfiles import FIELD_MANAGER, MANAGED_BY, MANAGED_BY_LABEL, check_paths

from .cluster import ROOT, Cluster
from .operator_process import OperatorProcess
from .resources import TERMINAL, state, tasks, wait_dag
from .waiting import GROUP, VERSION, watch_run

AIRKUBE = Path(sys.executable).with_name("airkube")
LOGICAL_DATE = "2024-06-01T00:00:00Z"


def airkube(cluster: Cluster, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = [str(AIRKUBE), *args]
    if cluster.kubeconfig:
        cmd += ["--kubeconfig", cluster.kubeconfig]
    if cluster.context:
        cmd += ["--context", cluster.context]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout}{proc.stderr}"
    return proc


def dags_in(custom: client.CustomObjectsApi, namespace: str) -> dict[str, dict[str, Any]]:
    listed = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "dags")
    return {item["metadata"]["name"]: item for item in listed["items"]}


def actions(output: str) -> dict[str, str]:
    """`dag.airkube.io/NAME ACTION  (SOURCES)` lines as {NAME: ACTION}."""
    found = {}
    for line in output.splitlines():
        resource, action = line.split()[:2]
        found[resource.removeprefix(f"dag.{GROUP}/")] = action
    return found


def canonical(spec: dict[str, Any]) -> dict[str, Any]:
    return DAGSpec.model_validate(spec).to_dict()


def ready(dag: dict[str, Any]) -> bool:
    status = dag.get("status") or {}
    return status.get("observedGeneration") == dag["metadata"]["generation"] and any(
        c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or ()
    )


def test_apply_dags_runs_one_and_prunes_a_deleted_one(
    operator: OperatorProcess,
    cluster: Cluster,
    custom: client.CustomObjectsApi,
    real_namespace: str,
    tmp_path: Path,
) -> None:
    # The examples really run (their outputs come from their commands): the real node.
    namespace = real_namespace
    work = tmp_path / "dags"
    shutil.copytree(ROOT / "dags", work)
    expected = {found.dag.name: found.dag.resource for found in check_paths([str(work)]).dags}
    assert {"hello", "etl", "taskflow"} <= set(expected)

    # Apply the whole directory: every DAG once (YAML and Python twins agree), labelled.
    proc = airkube(cluster, "apply", str(work), "-n", namespace)
    assert actions(proc.stdout) == dict.fromkeys(expected, "created")
    applied = dags_in(custom, namespace)
    assert set(applied) == set(expected)
    for name, dag in applied.items():
        assert dag["metadata"]["labels"][MANAGED_BY_LABEL] == MANAGED_BY
        assert canonical(dag["spec"]) == canonical(expected[name]["spec"])
        managers = {m["manager"] for m in dag["metadata"]["managedFields"]}
        assert FIELD_MANAGER in managers
        wait_dag(custom, namespace, name, ready)

    # A run of the Python-only example: @task functions, a task group, outputs passed on.
    airkube(cluster, "trigger", "taskflow", "-n", namespace, "--logical-date", LOGICAL_DATE)
    run_name = "taskflow-manual-20240601t000000"
    run = watch_run(custom, namespace, run_name, lambda r: state(r) in TERMINAL, timeout=120)
    assert state(run) == "Succeeded", run["status"]
    assert {name: t["state"] for name, t in tasks(run).items()} == dict.fromkeys(
        ["extract", "stats-total", "stats-biggest", "report", "notify"], "Succeeded"
    )
    # What the pods ran: each function's source, and its arguments rendered.
    preview = ["render-task", "taskflow", "extract", "--logical-date", LOGICAL_DATE]
    rendered = json.loads(airkube(cluster, *preview, "-n", namespace, "-o", "json").stdout)
    assert rendered["command"][:2] == ["python", "-c"]
    assert "def extract(table: str, ds: str) -> dict:" in rendered["command"][2]
    assert rendered["args"] == ["orders", "2024-06-01"]
    assert tasks(run)["report"]["output"] == '"2024-06-01: 49 in all, the biggest 30"'

    # Applying again changes nothing.
    proc = airkube(cluster, "apply", str(work), "-n", namespace)
    assert actions(proc.stdout) == dict.fromkeys(expected, "unchanged")

    # A DAG made some other way is not airkube apply's to prune.
    custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        "dags",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "DAG",
            "metadata": {"name": "by-hand"},
            "spec": {"tasks": [{"name": "t", "image": "busybox"}]},
        },
    )

    # A bad file anywhere: nothing is applied, nothing pruned.
    (work / "hello.py").unlink()
    (work / "hello.yaml").unlink()
    (work / "new.py").write_text(
        "from airkube.sdk import DAG, Task\n\n"
        "with DAG('new-dag', default_args={'image': 'busybox'}):\n"
        "    Task('only')\n"
    )
    (work / "broken.py").write_text(
        "from airkube.sdk import DAG, Task\n\n"
        "with DAG('broken', default_args={'image': 'busybox'}):\n"
        "    a, b = Task('a'), Task('b')\n"
        "    a >> b\n"
        "    b >> a\n"
    )
    proc = airkube(cluster, "apply", str(work), "-n", namespace, "--prune", check=False)
    assert proc.returncode == 1
    assert proc.stderr.endswith(
        f"{work / 'broken.py'}:6: DAG broken: tasks form a cycle: a → b → a\n"
        "airkube: 1 problem found: nothing applied\n"
    ), proc.stderr
    assert set(dags_in(custom, namespace)) == {*expected, "by-hand"}

    # --prune: the DAG whose files were deleted goes; the new one comes; by-hand stays.
    (work / "broken.py").unlink()
    proc = airkube(cluster, "apply", str(work), "-n", namespace, "--prune", "--dry-run")
    assert actions(proc.stdout) == {
        **dict.fromkeys(set(expected) - {"hello"}, "unchanged"),
        "new-dag": "created",
        "hello": "pruned",
    }
    assert set(dags_in(custom, namespace)) == {*expected, "by-hand"}
    proc = airkube(cluster, "apply", str(work), "-n", namespace, "--prune", "-o", "json")
    assert '"action": "pruned"' in proc.stdout
    assert set(dags_in(custom, namespace)) == (set(expected) - {"hello"}) | {"new-dag", "by-hand"}
    with pytest.raises(ApiException) as gone:
        custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "dags", "hello")
    assert gone.value.status == 404
