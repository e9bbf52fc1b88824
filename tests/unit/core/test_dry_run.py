"""The trial pods of a DAG's dry run: one per group of tasks alike in their pod settings,
built as the real pods are, with a generated name and no owner; a refusal names the task."""

from typing import Any

from airkube.api import DAGSpec
from airkube.core.dry_run import TRIAL_NAME_PREFIX, refusal, trial_pods
from airkube.core.validation import ProblemReason


def dag(*tasks: dict[str, Any], **defaults: Any) -> DAGSpec:
    return DAGSpec.model_validate(
        {"defaults": {"image": "busybox", **defaults}, "tasks": list(tasks)}
    )


def test_tasks_alike_share_one_trial_pod_whatever_their_commands_and_env_values() -> None:
    spec = dag(
        {"name": "a", "command": ["echo", "{{ ds }}"]},
        {"name": "b", "args": ["x"], "env": [{"name": "N", "value": "1"}]},
        {"name": "c", "env": [{"name": "N", "value": "{{ ds }}"}]},
        {"name": "d", "podTemplate": {"spec": {"dnsPolicy": "Sometimes"}}},
        {"name": "e", "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}]},
        {"name": "f"},
    )
    assert [t.tasks for t in trial_pods(spec, "ns", "etl")] == [
        ("a", "f"),
        ("b", "c"),
        ("d",),
        ("e",),
    ]


def test_ten_thousand_identical_tasks_cost_one_trial() -> None:
    spec = dag(*({"name": f"t{i}", "command": ["run", str(i)]} for i in range(10_000)))
    [trial] = trial_pods(spec, "ns", "big")
    assert len(trial.tasks) == 10_000


def test_a_trial_pod_is_the_real_pod_with_a_generated_name_and_no_owner() -> None:
    spec = dag(
        {"name": "web", "podTemplate": {"spec": {"nodeSelector": {"disk": "ssd"}}}},
        podTemplate={"metadata": {"labels": {"team": "data"}}},
    )
    [trial] = trial_pods(spec, "prod", "site")
    meta = trial.manifest["metadata"]
    assert "name" not in meta
    assert "ownerReferences" not in meta
    assert meta["generateName"] == TRIAL_NAME_PREFIX
    assert meta["namespace"] == "prod"
    assert meta["labels"]["team"] == "data"
    assert meta["labels"]["airkube.io/task"] == "web"
    pod = trial.manifest["spec"]
    assert pod["nodeSelector"] == {"disk": "ssd"}
    assert pod["restartPolicy"] == "Never"
    assert pod["containers"][0]["name"] == "task"
    assert pod["containers"][0]["image"] == "busybox"


def test_a_refusal_names_the_first_task_and_counts_the_others() -> None:
    spec = dag({"name": "a"}, {"name": "b"}, {"name": "c"})
    [trial] = trial_pods(spec, "ns", "etl")
    problem = refusal(
        trial,
        f'Pod "{TRIAL_NAME_PREFIX}x7bfd" is invalid: spec.dnsPolicy: Unsupported value: "S"',
    )
    assert problem.reason is ProblemReason.POD_REFUSED
    assert problem.task == "a"
    assert problem.message == (
        'task "a" (and 2 other tasks with the same pod settings): the API server refuses its '
        'pod: spec.dnsPolicy: Unsupported value: "S"'
    )
    [alone] = trial_pods(dag({"name": "solo"}), "ns", "etl")
    assert refusal(alone, "no").message == 'task "solo": the API server refuses its pod: no'
