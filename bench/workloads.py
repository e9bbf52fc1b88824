"""The benchmark workloads: DAG shapes, and each written for every system under test.

Every task is the same container (image busybox:1.36, command `true`). In the simulated
workloads its pod goes to KWOK's node (the namespace carries SIMULATED), whose Stages start
it after 100 ms and end it Succeeded 100 ms later (hack/kwok/stages.yaml: the
sim.airkube.io/* annotations); the three systems' pods carry the same annotations, so
KWOK treats them alike. In the real-node workloads (`real=True`) the namespace has no such
annotations, so the pods go to the cluster's real node (hack/node.sh) and busybox really
starts and exits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SIM = {"sim.airkube.io/start-delay": "100ms", "sim.airkube.io/duration": "100ms"}
IMAGE = "busybox:1.36"
"""Imported into the real node's containerd (hack/images.sh; never pulled); KWOK ignores it."""
SIMULATED = {
    "scheduler.alpha.kubernetes.io/node-selector": "type=kwok",
    "scheduler.alpha.kubernetes.io/defaultTolerations": (
        '[{"key": "airkube.io/simulated", "operator": "Exists", "effect": "NoSchedule"}]'
    ),
}
"""Namespace annotations that send its pods to the simulated node, which is tainted
(admission plugins PodNodeSelector and PodTolerationRestriction; hack/kwok/node.yaml).
The same as tests/e2e/resources.py's SIMULATED."""
COMMAND = ["true"]

Shape = list[tuple[str, list[str]]]
"""(task name, the tasks it depends on), in an order where dependencies come first."""


def chain(n: int) -> Shape:
    names = [f"a{i:03d}" for i in range(n)]
    return [(names[0], [])] + [(names[i], [names[i - 1]]) for i in range(1, n)]


def fan_out(n: int) -> Shape:
    width = len(str(n - 1))
    return [(f"t{i:0{width}d}", []) for i in range(n)]


def diamond(width: int) -> Shape:
    """start -> `width` tasks in parallel -> end."""
    middle = [f"m{i}" for i in range(width)]
    return [("start", []), *[(m, ["start"]) for m in middle], ("end", middle)]


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    shape: Shape
    runs: int
    limit_s: float
    """Longest wait for the runs to finish, per system (Argo may get less: see limit_for)."""
    argo_limit_s: float | None = None
    argo_tuned_limit_s: float | None = None
    real: bool = False
    """On the real node: pods that really run, no Argo (see the module's docstring)."""

    def limit_for(self, system: str) -> float:
        """The time limit of `system` ("argo", "argo-tuned", ...) on this workload."""
        own = {"argo": self.argo_limit_s, "argo-tuned": self.argo_tuned_limit_s}.get(system)
        return own or self.limit_s

    @property
    def is_chain(self) -> bool:
        return len(self.shape) > 1 and all(
            deps == ([self.shape[i - 1][0]] if i else []) for i, (_, deps) in enumerate(self.shape)
        )

    @property
    def namespace_annotations(self) -> dict[str, str]:
        return {} if self.real else SIMULATED

    @property
    def pod_annotations(self) -> dict[str, str]:
        """KWOK's script for the pod (none on the real node, where the container runs)."""
        return {} if self.real else SIM

    @property
    def tasks(self) -> int:
        return len(self.shape)

    @property
    def pods(self) -> int:
        return len(self.shape) * self.runs

    def run_names(self) -> list[str]:
        return [f"{self.key}-{i}" for i in range(self.runs)]


# ---- airkube -----------------------------------------------------------------------------


def airkube_dag(w: Workload) -> dict[str, Any]:
    return {
        "apiVersion": "airkube.io/v1alpha1",
        "kind": "DAG",
        "metadata": {"name": w.key},
        "spec": {
            # No limit of our own below the workload's: Argo has none by default either.
            "maxActiveRuns": max(w.runs, 1),
            "maxActiveTasks": w.tasks,
            # Keep the pods, as Argo does by default (no podGC).
            "podGC": {"strategy": "Never"},
            "defaults": {
                "image": IMAGE,
                # A throughput test: a pod that waits for the node is not a failure here
                # (neither the ceiling nor Argo fails one). With pendingTimeout's default
                # (5m), 2,417 pods of the 10,000-task run on the 2-core machine of
                # 2026-11-28 failed PendingTimeout while KWOK caught up.
                "pendingTimeout": "2h",
                **(
                    {"podTemplate": {"metadata": {"annotations": w.pod_annotations}}}
                    if w.pod_annotations
                    else {}
                ),
            },
            "tasks": [
                {"name": name, "command": COMMAND, **({"dependsOn": deps} if deps else {})}
                for name, deps in w.shape
            ],
        },
    }


def airkube_run(w: Workload, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "airkube.io/v1alpha1",
        "kind": "DAGRun",
        "metadata": {"name": name},
        "spec": {"dagRef": {"name": w.key}},
    }


# ---- Argo Workflows ----------------------------------------------------------------------

ARGO_MAX_DAG_TASKS = 200
"""maxItems of spec.templates[].dag.tasks in Argo's (full) Workflow CRD."""


def argo_workflow(w: Workload, name: str) -> dict[str, Any]:
    """The same DAG as an Argo Workflow: a dag template of tasks running one container
    template (Argo's pods get its metadata, so the same KWOK annotations)."""
    if len(w.shape) > ARGO_MAX_DAG_TASKS and not any(deps for _, deps in w.shape):
        # Its CRD allows at most 200 tasks in a dag template; a fan-out is written as Argo
        # users write it: one task over a sequence, which Argo expands to that many nodes.
        tasks = [{"name": "t", "template": "work", "withSequence": {"count": str(w.tasks)}}]
    else:
        tasks = [
            {"name": name, "template": "work", **({"dependencies": deps} if deps else {})}
            for name, deps in w.shape
        ]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {"name": "main", "dag": {"tasks": tasks}},
                {
                    "name": "work",
                    "metadata": {"annotations": w.pod_annotations},
                    "container": {"image": IMAGE, "command": COMMAND},
                },
            ],
        },
    }


# ---- the ceiling -------------------------------------------------------------------------

CEILING_RUN = "bench.airkube.io/run"
CEILING_TASK = "bench.airkube.io/task"


def ceiling_pod(w: Workload, run: str, task: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{run}-{task}",
            "labels": {CEILING_RUN: run, CEILING_TASK: task},
            **({"annotations": w.pod_annotations} if w.pod_annotations else {}),
        },
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "task", "image": IMAGE, "command": COMMAND}],
        },
    }
