"""Pod manifests of task tries: names, labels, owner, defaults merged with the task."""

import re
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from airkube.api import DAGRunSpec, DAGSpec
from airkube.core.model.run import Run
from airkube.core.pods import (
    CONTAINER_NAME,
    LABEL_DAG,
    LABEL_RUN,
    LABEL_TASK,
    LABEL_TRY,
    build_pod,
    label_value,
    pod_name,
)
from airkube.core.resolve import ResolvedTask, resolve_task

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def a_run(
    name: str = "etl-manual-1", namespace: str = "data", uid: str = "u-1", **spec: Any
) -> Run:
    run_spec = DAGRunSpec.model_validate({"dagRef": {"name": "etl"}, **spec})
    return Run(namespace=namespace, name=name, uid=uid, spec=run_spec)


def resolved(task: dict[str, Any], defaults: dict[str, Any] | None = None) -> ResolvedTask:
    spec = DAGSpec.model_validate({"defaults": defaults or {"image": "busybox"}, "tasks": [task]})
    return resolve_task(spec, spec.tasks[0])


def main_container(manifest: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = manifest["spec"]["containers"][0]
    assert container["name"] == CONTAINER_NAME
    return container


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_pod_basics() -> None:
    run = a_run()
    task = resolved({"name": "extract", "command": ["python", "-m", "extract"], "args": ["x"]})
    pod = build_pod(task, run, 2)
    meta = pod["metadata"]
    assert pod["apiVersion"] == "v1"
    assert pod["kind"] == "Pod"
    assert meta["name"] == pod_name(run, "extract", 2)
    assert meta["name"].startswith("etl-manual-1-extract-2-")
    assert meta["namespace"] == "data"
    assert meta["labels"] == {
        "app.kubernetes.io/managed-by": "airkube",
        LABEL_DAG: "etl",
        LABEL_RUN: "etl-manual-1",
        LABEL_TASK: "extract",
        LABEL_TRY: "2",
    }
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "airkube.io/v1alpha1",
            "kind": "DAGRun",
            "name": "etl-manual-1",
            "uid": "u-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert meta["annotations"]["kubectl.kubernetes.io/default-container"] == "task"
    assert pod["spec"]["restartPolicy"] == "Never"
    assert "activeDeadlineSeconds" not in pod["spec"]
    container = main_container(pod)
    assert container["image"] == "busybox"
    assert container["command"] == ["python", "-m", "extract"]
    assert container["args"] == ["x"]
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    env = env_of(container)
    assert env["AIRKUBE_DAG"] == "etl"
    assert env["AIRKUBE_RUN"] == "etl-manual-1"
    assert env["AIRKUBE_TASK"] == "extract"
    assert env["AIRKUBE_TRY"] == "2"
    assert env["AIRKUBE_NAMESPACE"] == "data"
    assert env["AIRKUBE_OUTPUT"] == "/dev/termination-log"
    assert "AIRKUBE_LOGICAL_DATE" not in env


def test_pod_env_carries_the_logical_date_and_interval() -> None:
    run = a_run(
        logicalDate="2024-05-01T00:00:00Z",
        dataIntervalStart="2024-05-01T00:00:00Z",
        dataIntervalEnd="2024-05-02T00:00:00Z",
        runType="scheduled",
    )
    env = env_of(main_container(build_pod(resolved({"name": "a"}), run, 1)))
    assert env["AIRKUBE_LOGICAL_DATE"] == "2024-05-01T00:00:00+00:00"
    assert env["AIRKUBE_DATA_INTERVAL_END"] == "2024-05-02T00:00:00+00:00"
    assert env["AIRKUBE_RUN_TYPE"] == "scheduled"


def test_execution_timeout_becomes_active_deadline() -> None:
    pod = build_pod(resolved({"name": "a", "executionTimeout": "90.5s"}), a_run(), 1)
    assert pod["spec"]["activeDeadlineSeconds"] == 91
    pod = build_pod(resolved({"name": "a"}, {"image": "x", "executionTimeout": "1h"}), a_run(), 1)
    assert pod["spec"]["activeDeadlineSeconds"] == 3600


def test_pod_names_are_dns_labels_unique_per_try_and_stable() -> None:
    run = a_run()
    names = {pod_name(run, task, t) for task in ("a", "b") for t in (1, 2, 3)}
    assert len(names) == 6
    assert pod_name(run, "a", 1) == pod_name(a_run(), "a", 1)
    # A run re-created with the same name (new uid) gets new pod names.
    assert pod_name(run, "a", 1) != pod_name(a_run(uid="u-2"), "a", 1)
    assert pod_name(run, "a", 1) != pod_name(a_run(namespace="other"), "a", 1)


@settings(max_examples=200, deadline=None)
@given(
    run_name=st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,250}[a-z0-9])?", fullmatch=True),
    task=st.from_regex(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True),
    try_number=st.integers(min_value=1, max_value=1001),
)
def test_any_pod_name_is_a_dns_label_of_at_most_63(
    run_name: str, task: str, try_number: int
) -> None:
    name = pod_name(a_run(name=run_name), task, try_number)
    assert len(name) <= 63
    assert DNS_LABEL.fullmatch(name), name
    assert name.endswith(f"-{try_number}-" + name.rsplit("-", 1)[1])


def test_long_names_keep_both_parts_readable() -> None:
    run = a_run(name="a-very-long-dag-name-for-the-warehouse-scheduled-2024-05-01t00-00-00")
    name = pod_name(run, "load-the-fact-tables-into-the-warehouse", 12)
    assert len(name) <= 63
    assert name.startswith("a-very-long-dag-name")
    assert "-load-the-fact" in name


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=300))
def test_label_values_are_always_valid(text: str) -> None:
    value = label_value(text)
    assert len(value) <= 63
    assert LABEL_VALUE.fullmatch(value), value


def test_label_value_keeps_valid_values_and_hashes_long_ones() -> None:
    assert label_value("etl") == "etl"
    long = "x" * 100
    assert label_value(long) != label_value(long + "y")
    assert label_value(long).startswith("x" * 40)


def test_defaults_merged_with_the_task() -> None:
    defaults = {
        "image": "python:3.12",
        "imagePullPolicy": "IfNotPresent",
        "env": [
            {"name": "STAGE", "value": "prod"},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        ],
        "envFrom": [{"configMapRef": {"name": "common"}}],
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        "resources": {"requests": {"cpu": "100m"}, "limits": {"memory": "1Gi"}},
        "podTemplate": {
            "metadata": {"labels": {"team": "data", "tier": "batch"}},
            "spec": {
                "serviceAccountName": "etl",
                "nodeSelector": {"pool": "batch"},
                "tolerations": [
                    {"key": "batch", "operator": "Exists", "effect": "NoSchedule"},
                    {"key": "spot", "operator": "Exists", "effect": "NoSchedule"},
                ],
                "volumes": [{"name": "data", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
                "imagePullSecrets": [{"name": "regcred"}],
                "containers": [
                    {"name": "task", "securityContext": {"runAsNonRoot": True}},
                    {"name": "proxy", "image": "proxy:1"},
                ],
            },
        },
    }
    task = {
        "name": "load",
        "image": "loader:2",
        "env": [{"name": "STAGE", "value": "test"}, {"name": "EXTRA", "value": "1"}],
        "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": True}],
        "resources": {"requests": {"cpu": "2"}},
        "podTemplate": {
            "metadata": {"labels": {"tier": "critical"}, "annotations": {"a": "b"}},
            "spec": {
                "tolerations": [
                    {"key": "spot", "operator": "Equal", "value": "no", "effect": "NoSchedule"}
                ],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "warehouse"}}],
                "containers": [{"name": "task", "ports": [{"containerPort": 8080}]}],
                "priorityClassName": "high",
                "hostNetwork": False,
            },
        },
    }
    pod = build_pod(resolved(task, defaults), a_run(), 1)
    spec = pod["spec"]
    container = main_container(pod)
    assert container["image"] == "loader:2"
    assert container["imagePullPolicy"] == "IfNotPresent"
    env = env_of(container)
    assert env["STAGE"] == "test"
    assert env["EXTRA"] == "1"
    assert env["TOKEN"] == {"secretKeyRef": {"name": "s", "key": "k"}}
    assert [e["name"] for e in container["env"]][:3] == ["STAGE", "TOKEN", "EXTRA"]
    assert container["envFrom"] == [{"configMapRef": {"name": "common"}}]
    assert container["volumeMounts"] == [{"name": "data", "mountPath": "/data", "readOnly": True}]
    # resources are taken as a whole from the task.
    assert container["resources"] == {"requests": {"cpu": "2"}}
    assert container["securityContext"] == {"runAsNonRoot": True}
    assert container["ports"] == [{"containerPort": 8080}]
    assert [c["name"] for c in spec["containers"]] == ["task", "proxy"]
    assert spec["serviceAccountName"] == "etl"
    assert spec["nodeSelector"] == {"pool": "batch"}
    assert spec["tolerations"] == [
        {"key": "batch", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "spot", "operator": "Equal", "value": "no", "effect": "NoSchedule"},
    ]
    # A volume of the task replaces the default's volume of the same name entirely.
    assert spec["volumes"] == [
        {"name": "data", "persistentVolumeClaim": {"claimName": "warehouse"}},
        {"name": "tmp", "emptyDir": {}},
    ]
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    assert spec["priorityClassName"] == "high"
    assert spec["hostNetwork"] is False
    labels = pod["metadata"]["labels"]
    assert labels["team"] == "data"
    assert labels["tier"] == "critical"
    assert pod["metadata"]["annotations"]["a"] == "b"


def test_airkube_settings_win_over_the_template() -> None:
    task = {
        "name": "a",
        "podTemplate": {
            "metadata": {"labels": {LABEL_TASK: "spoof", LABEL_TRY: "9"}},
            "spec": {
                "restartPolicy": "Always",
                "containers": [
                    {
                        "name": "task",
                        "image": "template-image",
                        "terminationMessagePolicy": "File",
                        "terminationMessagePath": "/tmp/x",
                    }
                ],
            },
        },
    }
    pod = build_pod(resolved(task), a_run(), 3)
    assert pod["metadata"]["labels"][LABEL_TASK] == "a"
    assert pod["metadata"]["labels"][LABEL_TRY] == "3"
    assert pod["spec"]["restartPolicy"] == "Never"
    container = main_container(pod)
    assert container["image"] == "busybox"  # the task's own field beats its template
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert "terminationMessagePath" not in container


def test_building_does_not_change_the_task() -> None:
    task = resolved({"name": "a", "podTemplate": {"spec": {"containers": [{"name": "task"}]}}})
    before = repr(task.pod_template)
    build_pod(task, a_run(), 1)
    assert repr(task.pod_template) == before


def test_resolved_task_defaults() -> None:
    task = resolved({"name": "a"})
    assert task.retries == 0
    assert task.retry_delay == timedelta(minutes=5)
    assert task.max_retry_delay == timedelta(hours=24)
    assert task.retry_exponential_backoff is False
    assert task.execution_timeout is None
    assert task.skip_on_exit_code == frozenset({99})
    assert task.max_tries == 1


def test_resolved_task_takes_defaults_then_overrides() -> None:
    defaults = {"image": "x", "retries": 3, "retryDelay": "30s", "skipOnExitCode": []}
    assert resolved({"name": "a"}, defaults).retries == 3
    assert resolved({"name": "a", "retries": 0}, defaults).retries == 0
    assert resolved({"name": "a"}, defaults).skip_on_exit_code == frozenset()
    assert resolved({"name": "a", "skipOnExitCode": [42]}, defaults).skip_on_exit_code == {42}
    assert resolved({"name": "a"}, defaults).retry_delay == timedelta(seconds=30)
