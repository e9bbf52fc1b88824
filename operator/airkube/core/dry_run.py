"""The pods a DAG's tasks would get, for the operator's server-side dry run (the API server
says whether it would accept them, with strict field validation), and the problem a
refusal is.

Only the fields a task passes to its pod matter (image, env, envFrom, resources,
volumeMounts, executionTimeout, podTemplate; not command, args or env values, which the
API server takes as they are): tasks alike in those share one trial pod, so a DAG of
10,000 tasks with the same settings costs one dry run. The trial pod is what
:func:`airkube.core.pods.build_pod` makes for a placeholder run, with a generated name
and no owner.
"""

import json
import re
from dataclasses import dataclass
from typing import Any

from airkube.api.dag import DAGSpec, Task
from airkube.api.dagrun import DagRef, DAGRunSpec
from airkube.core.model.run import Run
from airkube.core.pods import build_pod
from airkube.core.resolve import MissingImageError, resolve_task
from airkube.core.validation import Problem, ProblemReason

TRIAL_NAME_PREFIX = "airkube-dry-run-"
PLACEHOLDER_UID = "00000000-0000-0000-0000-000000000000"
_GENERATED_NAME = re.compile(rf'^Pod "{TRIAL_NAME_PREFIX}[a-z0-9]*" is invalid: ')
_POD_FIELDS = {
    "image",
    "image_pull_policy",
    "env",
    "env_from",
    "resources",
    "volume_mounts",
    "execution_timeout",
    "pod_template",
}
"""The settings of a task that go into its pod (command, args and env values aside)."""


@dataclass(frozen=True)
class TrialPod:
    """The pod of ``tasks[0]``, standing for the pods of every task in ``tasks``."""

    tasks: tuple[str, ...]
    manifest: dict[str, Any]


def _pod_settings(task: Task) -> str:
    settings = task.model_dump(include=_POD_FIELDS, mode="json", exclude_none=True)
    for var in settings.get("env") or ():
        var.pop("value", None)
    return json.dumps(settings, sort_keys=True)


def placeholder_run(namespace: str, dag: str) -> Run:
    """A run of ``dag`` that does not exist: what a trial pod is built for."""
    spec = DAGRunSpec(dag_ref=DagRef(name=dag))
    return Run(namespace=namespace, name=f"{dag}-dry-run", uid=PLACEHOLDER_UID, spec=spec)


def trial_pods(spec: DAGSpec, namespace: str, dag: str) -> list[TrialPod]:
    """One trial pod per group of tasks alike in their pod settings, in the spec's order.
    ``spec`` is valid (:func:`airkube.core.validation.validate_dag` found nothing)."""
    groups: dict[str, list[Task]] = {}
    for task in spec.tasks:
        groups.setdefault(_pod_settings(task), []).append(task)
    run = placeholder_run(namespace, dag)
    trials = []
    for tasks in groups.values():
        try:
            resolved = resolve_task(spec, tasks[0])
        except MissingImageError:
            continue  # validation reports it
        manifest = build_pod(resolved, run, 1)
        metadata = manifest["metadata"]
        del metadata["name"]
        metadata.pop("ownerReferences", None)
        metadata["generateName"] = TRIAL_NAME_PREFIX
        trials.append(TrialPod(tuple(t.name for t in tasks), manifest))
    return trials


def refusal(trial: TrialPod, message: str) -> Problem:
    """The DAG problem of the API server refusing ``trial`` with ``message`` (without the
    generated name of the trial pod: the same refusal reads the same)."""
    message = _GENERATED_NAME.sub("", message)
    first, others = trial.tasks[0], len(trial.tasks) - 1
    also = f" (and {others} other task{'s' if others > 1 else ''} with the same pod settings)"
    return Problem(
        ProblemReason.POD_REFUSED,
        f'task "{first}"{also if others else ""}: the API server refuses its pod: {message}',
        first,
    )
