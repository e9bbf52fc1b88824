"""The models are as strict about types as the CRD's schema: every DAG they accept, the API
server accepts too, so `airkube validate` never passes what it refuses (issue 15:
``catchup: "yes"``, ``retries: "3"``, ``paused: 1``, ``schedule: "@daily "``)."""

from typing import Any

import pytest
from pydantic import ValidationError
from test_crds import DAG_SCHEMA, dag_object, problems

from airkube.api import DAGSpec
from airkube.api.errors import describe_validation_error

BOOLS: list[Any] = [True, False, "yes", "true", "True", 1, 0, 1.0, None]
INTS: list[Any] = [3, 0, "3", 3.0, 3.5, True, "three", None]
SCHEDULES = [
    "@daily",
    "@daily ",
    " @daily",
    "@daily\n",
    "0 0 * * *",
    "0  0 * * *",
    "0\t0 * * *",
    "0 0 * * * ",
    "0\u00a00 * * * *",
    "0\u20030 * * * *",
    "0\v0 * * * *",
]
QUANTITIES: list[Any] = [1, "500m", "1Gi", True, 1.5, "1.5", "lots", [1]]

# (where in the DAG, values): where is a function of the value giving (task, spec).
CASES: list[tuple[str, Any]] = (
    [(f"spec.{field}", v) for field in ("catchup", "paused") for v in BOOLS]
    + [
        (f"spec.{field}", v)
        for field in (
            "maxActiveRuns",
            "maxActiveTasks",
            "successfulRunsHistoryLimit",
            "failedRunsHistoryLimit",
        )
        for v in INTS
    ]
    + [("task.retries", v) for v in INTS]
    + [("task.retryExponentialBackoff", v) for v in BOOLS]
    + [("task.skipOnExitCode", [v]) for v in INTS]
    + [("task.volumeMounts.readOnly", v) for v in BOOLS]
    + [("task.envFrom.optional", v) for v in BOOLS]
    + [("task.resources", v) for v in QUANTITIES]
    + [("spec.schedule", v) for v in SCHEDULES]
)


def build(where: str, value: Any) -> dict[str, Any]:
    task: dict[str, Any] = {"name": "a"}
    spec: dict[str, Any] = {}
    kind, _, field = where.partition(".")
    if field == "volumeMounts.readOnly":
        task["volumeMounts"] = [{"name": "v", "mountPath": "/v", "readOnly": value}]
    elif field == "envFrom.optional":
        task["envFrom"] = [{"configMapRef": {"name": "c", "optional": value}}]
    elif field == "resources":
        task["resources"] = {"limits": {"cpu": value}}
    elif kind == "task":
        task[field] = value
    else:
        spec[field] = value
    return dag_object(task, **spec)


def pruned(value: Any) -> Any:
    """As the API server stores it: null fields not declared nullable are dropped before
    validation (apiextensions.k8s.io/v1)."""
    if isinstance(value, dict):
        return {k: pruned(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [pruned(v) for v in value]
    return value


def accepted_by_models(dag: dict[str, Any]) -> bool:
    try:
        DAGSpec.from_dict(dag["spec"])
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(("where", "value"), CASES, ids=repr)
def test_what_the_models_accept_the_crd_accepts(where: str, value: Any) -> None:
    dag = build(where, value)
    if accepted_by_models(dag):
        assert problems(DAG_SCHEMA, pruned(dag)) == []


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("spec.catchup", "yes"),
        ("spec.paused", 1),
        ("spec.maxActiveRuns", "2"),
        ("task.retries", "3"),
        ("task.retries", 3.0),
        ("task.retryExponentialBackoff", "true"),
        ("task.resources", True),
        ("spec.schedule", "@daily "),
        ("spec.schedule", "@daily\n"),
        ("spec.schedule", "0\u20030 * * * *"),
    ],
    ids=repr,
)
def test_what_the_api_server_refuses_the_models_refuse_in_one_message(
    where: str, value: Any
) -> None:
    dag = build(where, value)
    with pytest.raises(ValidationError) as raised:
        DAGSpec.from_dict(dag["spec"])
    [message] = describe_validation_error(raised.value, dag["spec"])
    field = where.rpartition(".")[2]
    assert field in message or (field == "resources" and "cpu" in message), message


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("spec.catchup", True),
        ("spec.maxActiveRuns", 2),
        ("task.retries", 0),
        ("task.resources", "500m"),
        ("task.resources", 2),
        ("spec.schedule", "@daily"),
        ("spec.schedule", "0 0 * * *"),
    ],
    ids=repr,
)
def test_well_typed_values_still_pass(where: str, value: Any) -> None:
    dag = build(where, value)
    assert accepted_by_models(dag)
    assert problems(DAG_SCHEMA, dag) == []
