"""Pods of task tries: their names, labels and manifests (plain JSON-ready dicts).

One pod per try. The task runs in the container named ``task`` (``kubectl logs`` picks it
by default); other containers of the pod template are sidecars. The container's
terminationMessagePolicy is FallbackToLogsOnError: what the task writes to
/dev/termination-log becomes its output, and a failing task that wrote nothing reports the
end of its log.
"""

import hashlib
import math
import re
from typing import Any

from airkube.api.meta import API_VERSION, DAGRUN_KIND
from airkube.api.names import LABEL_VALUE_MAX_LENGTH, is_label_value
from airkube.core.merge import deep_merge, list_key, merge_keyed
from airkube.core.model.run import Run
from airkube.core.resolve import ResolvedTask

CONTAINER_NAME = "task"

LABEL_DAG = "airkube.io/dag"
LABEL_RUN = "airkube.io/run"
LABEL_TASK = "airkube.io/task"
LABEL_TRY = "airkube.io/try"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "airkube"
"""Every pod airkube creates has ``app.kubernetes.io/managed-by=airkube``: the watch's
label selector."""

ANNOTATION_DAG = "airkube.io/dag"
ANNOTATION_RUN = "airkube.io/run"
"""The full names, in case the labels had to be shortened."""
ANNOTATION_DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"

TERMINATION_MESSAGE_PATH = "/dev/termination-log"

POD_NAME_MAX_LENGTH = 63
_HASH_LENGTH = 8


def _digest(*parts: str) -> str:
    text = "\x00".join(parts)
    return hashlib.sha256(text.encode()).hexdigest()[:_HASH_LENGTH]


def _dns_label_part(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")


def pod_name(run: Run, task: str, try_number: int) -> str:
    """The pod of try ``try_number`` of ``task`` in ``run``: ``<run>-<task>-<try>-<hash>``,
    the run and task names shortened to fit 63 characters (a DNS-1123 label).

    The hash covers the namespace, run name and uid, task and try: names are unique per
    try and never shared by two runs, even when a run is re-created with the same name.
    """
    suffix = f"-{try_number}-{_digest(run.namespace, run.name, run.uid, task, str(try_number))}"
    budget = POD_NAME_MAX_LENGTH - len(suffix)
    run_part = _dns_label_part(run.name)
    task_part = _dns_label_part(task)
    if len(run_part) + 1 + len(task_part) > budget:
        # The run name gives way first, but keeps at least half of the room.
        run_room = max(budget - 1 - len(task_part), min(len(run_part), budget // 2))
        run_part = run_part[:run_room].rstrip("-")
        task_part = task_part[: budget - 1 - len(run_part)].rstrip("-")
    readable = "-".join(p for p in (run_part, task_part) if p)
    return f"{readable}{suffix}" if readable else suffix.lstrip("-")


def label_value(text: str) -> str:
    """``text`` as a label value: itself when valid, else a readable prefix and a hash."""
    if is_label_value(text):
        return text
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)
    prefix = cleaned[: LABEL_VALUE_MAX_LENGTH - _HASH_LENGTH - 1]
    prefix = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", prefix)
    digest = _digest(text)
    return f"{prefix}-{digest}" if prefix else digest


def pod_labels(run: Run, task: str, try_number: int) -> dict[str, str]:
    """The labels of a task try's pod (the controller selects and indexes pods by them)."""
    return {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_DAG: label_value(run.dag),
        LABEL_RUN: label_value(run.name),
        LABEL_TASK: label_value(task),
        LABEL_TRY: str(try_number),
    }


def owner_reference(run: Run) -> dict[str, Any]:
    """The DAGRun as the pods' controlling owner: deleting the run deletes its pods."""
    return {
        "apiVersion": API_VERSION,
        "kind": DAGRUN_KIND,
        "name": run.name,
        "uid": run.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def reserved_env(run: Run, task: str, try_number: int) -> list[dict[str, str]]:
    """The AIRKUBE_* variables every task container gets."""
    env = {
        "AIRKUBE_NAMESPACE": run.namespace,
        "AIRKUBE_DAG": run.dag,
        "AIRKUBE_RUN": run.name,
        "AIRKUBE_RUN_TYPE": run.spec.run_type.value,
        "AIRKUBE_TASK": task,
        "AIRKUBE_TRY": str(try_number),
        "AIRKUBE_OUTPUT": TERMINATION_MESSAGE_PATH,
    }
    spec = run.spec
    if spec.logical_date is not None:
        env["AIRKUBE_LOGICAL_DATE"] = spec.logical_date.isoformat()
    if spec.data_interval_start is not None and spec.data_interval_end is not None:
        env["AIRKUBE_DATA_INTERVAL_START"] = spec.data_interval_start.isoformat()
        env["AIRKUBE_DATA_INTERVAL_END"] = spec.data_interval_end.isoformat()
    return [{"name": name, "value": value} for name, value in env.items()]


def _task_container(task: ResolvedTask) -> dict[str, Any]:
    container: dict[str, Any] = {"image": task.image}
    if task.image_pull_policy is not None:
        container["imagePullPolicy"] = task.image_pull_policy.value
    if task.command is not None:
        container["command"] = list(task.command)
    if task.args is not None:
        container["args"] = list(task.args)
    if task.env:
        container["env"] = [e.to_dict() for e in task.env]
    if task.env_from:
        container["envFrom"] = [e.to_dict() for e in task.env_from]
    if task.resources is not None:
        container["resources"] = task.resources.to_dict()
    if task.volume_mounts:
        container["volumeMounts"] = [m.to_dict() for m in task.volume_mounts]
    return container


def build_pod(task: ResolvedTask, run: Run, try_number: int) -> dict[str, Any]:
    """The Pod manifest of try ``try_number`` (from 1) of ``task`` (already resolved and,
    from issue 5 on, rendered) in ``run``.

    The task's own settings win over its pod template's "task" container entry; airkube's
    labels, env vars, restartPolicy (Never) and terminationMessagePolicy win over both.
    """
    if try_number < 1:
        raise ValueError(f"try numbers start at 1, not {try_number}")
    template = task.pod_template
    template_meta: dict[str, Any] = dict(template.get("metadata") or {})
    spec: dict[str, Any] = deep_merge({}, template.get("spec") or {})

    containers: list[dict[str, Any]] = spec.pop("containers", None) or []
    main_template = next((c for c in containers if c.get("name") == CONTAINER_NAME), {})
    sidecars = [c for c in containers if c.get("name") != CONTAINER_NAME]
    main = deep_merge(main_template, _task_container(task))
    main["name"] = CONTAINER_NAME
    main["env"] = merge_keyed(
        main.get("env") or [], reserved_env(run, task.name, try_number), list_key("env")
    )
    main["terminationMessagePolicy"] = "FallbackToLogsOnError"
    main.pop("terminationMessagePath", None)
    spec["containers"] = [main, *sidecars]
    spec["restartPolicy"] = "Never"
    if task.execution_timeout is not None:
        spec["activeDeadlineSeconds"] = max(1, math.ceil(task.execution_timeout.total_seconds()))

    labels = {**(template_meta.get("labels") or {}), **pod_labels(run, task.name, try_number)}
    annotations = {
        **(template_meta.get("annotations") or {}),
        ANNOTATION_DAG: run.dag,
        ANNOTATION_RUN: run.name,
        ANNOTATION_DEFAULT_CONTAINER: CONTAINER_NAME,
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(run, task.name, try_number),
            "namespace": run.namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [owner_reference(run)],
        },
        "spec": spec,
    }
