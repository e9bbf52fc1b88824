"""The DAG and DAGRun models: what they accept, what they refuse, how they serialise."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from airkube.api import (
    DAG,
    DAGRun,
    DAGRunSpec,
    DAGRunStatus,
    DAGSpec,
    RunState,
    RunType,
    TaskState,
    TaskStatus,
    TriggerRule,
)
from airkube.api.errors import describe_validation_error

EXAMPLE = (Path(__file__).parent / "warehouse_dag.yaml").read_text(encoding="utf-8")


def test_an_airflow_style_dag_parses() -> None:
    dag = DAG.model_validate(yaml.safe_load(EXAMPLE))
    spec = dag.spec
    assert dag.metadata.name == "warehouse"
    assert spec.schedule == "0 2 * * *"
    assert spec.timezone == "Europe/Paris"
    assert spec.start_date == datetime(2024, 1, 1)
    assert spec.catchup is True
    assert spec.paused is False
    assert spec.max_active_runs == 1
    assert spec.dagrun_timeout == timedelta(hours=6)
    assert spec.params == {"table": "events", "limit": 1000}
    assert spec.defaults is not None
    assert spec.defaults.retry_delay == timedelta(minutes=5)
    extract, transform, load, notify = spec.tasks
    assert extract.execution_timeout == timedelta(minutes=30)
    assert extract.resources is not None
    assert extract.resources.limits == {"memory": "2Gi", "nvidia.com/gpu": 1}
    assert transform.depends_on == ["extract"]
    assert transform.trigger_rule is TriggerRule.ALL_SUCCESS
    assert load.retries == 0
    assert notify.trigger_rule is TriggerRule.ONE_FAILED


def test_serialises_with_camel_case_and_canonical_durations() -> None:
    spec = DAG.model_validate(yaml.safe_load(EXAMPLE)).spec
    data = spec.to_dict()
    assert data["dagrunTimeout"] == "6h"
    assert data["defaults"]["retryExponentialBackoff"] is True
    assert data["tasks"][1]["dependsOn"] == ["extract"]
    assert data["tasks"][3]["triggerRule"] == "one_failed"
    assert data["startDate"] == "2024-01-01T00:00:00"
    assert DAGSpec.from_dict(data) == spec


def test_python_names_are_accepted_too() -> None:
    spec = DAGSpec(
        tasks=[{"name": "a", "image": "x", "depends_on": [], "retry_delay": "1m"}],  # type: ignore[list-item]
        max_active_tasks=3,
    )
    assert spec.max_active_tasks == 3
    assert spec.tasks[0].retry_delay == timedelta(minutes=1)


def test_defaults() -> None:
    spec = DAGSpec.model_validate({"tasks": [{"name": "a"}]})
    assert spec.timezone == "UTC"
    assert spec.catchup is False
    assert spec.paused is False
    assert spec.max_active_runs == 16
    assert spec.max_active_tasks == 16
    assert spec.schedule is None
    assert spec.tasks[0].retries is None  # inherits from defaults


def describe(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as info:
        DAGSpec.model_validate(data)
    return describe_validation_error(info.value, data)


def test_typos_are_refused() -> None:
    assert sorted(describe({"tasks": [{"name": "a", "retires": 2}], "schedul": "@daily"})) == [
        "schedul is not a known field",
        'task "a": retires is not a known field',
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"tasks": []}, "tasks: List should have at least 1 item after validation, not 0"),
        ({}, "tasks is required"),
        ({"tasks": [{"image": "x"}]}, "tasks[0]: name is required"),
        ({"tasks": [{"name": "a", "retries": -1}]}, 'task "a": retries: Input should be greater'),
        (
            {"tasks": [{"name": "a", "triggerRule": "sometimes"}]},
            "task \"a\": triggerRule: Input should be 'all_success', 'all_failed'",
        ),
        (
            {"tasks": [{"name": "a", "executionTimeout": "0s"}]},
            'task "a": executionTimeout: must be longer than zero',
        ),
        (
            {"tasks": [{"name": "a", "pendingTimeout": "0s"}]},
            'task "a": pendingTimeout: must be longer than zero',
        ),
        (
            {"tasks": [{"name": "a"}], "defaults": {"pendingTimeout": "5 minutes"}},
            'defaults.pendingTimeout: "5 minutes" is not a duration',
        ),
        ({"tasks": [{"name": "a"}], "maxActiveTasks": 0}, "maxActiveTasks: Input should be"),
        ({"tasks": [{"name": "a"}], "schedule": "every day"}, 'schedule "every day" has 2 fields'),
        ({"tasks": [{"name": "a"}], "timezone": "CET+1"}, 'timezone "CET+1" is not an IANA'),
        (
            {"tasks": [{"name": "a"}], "startDate": "2024-02-01", "endDate": "2024-01-01"},
            "endDate is before startDate",
        ),
        (
            {"tasks": [{"name": "a"}], "params": {"my-param": 1, "ok": 2}},
            'param name "my-param" cannot be used in templates as params.my-param',
        ),
        (
            {"tasks": [{"name": "a", "resources": {"limits": {"memory": "lots"}}}]},
            'task "a": resources.limits.memory: "lots" is not a Kubernetes quantity',
        ),
        (
            {"tasks": [{"name": "a", "env": [{"name": "1X=", "value": "v"}]}]},
            'task "a": env[0].name: String should match pattern',
        ),
        (
            {"tasks": [{"name": "a", "skipOnExitCode": [0]}]},
            'task "a": skipOnExitCode[0]: Input should be greater than or equal to 1',
        ),
        (
            {"tasks": [{"name": "a", "imagePullPolicy": "Sometimes"}]},
            'task "a": imagePullPolicy: Input should be',
        ),
        ({"tasks": [{"name": "a-"}]}, 'task name "a-" cannot be part of a pod name'),
        (
            {"tasks": [{"name": "x" * 64}]},
            f'task name "{"x" * 64}" cannot be part of a pod name: use at most 63',
        ),
    ],
)
def test_invalid_specs_get_one_message_per_problem(data: dict[str, Any], message: str) -> None:
    messages = describe(data)
    assert len(messages) == 1, messages
    assert messages[0].startswith(message), messages


def test_pod_template_accepts_any_pod_field() -> None:
    spec = DAGSpec.model_validate(
        {
            "tasks": [
                {
                    "name": "a",
                    "podTemplate": {
                        "spec": {
                            "hostNetwork": True,
                            "volumes": [{"name": "v", "configMap": {"name": "c"}}],
                        }
                    },
                }
            ]
        }
    )
    dumped = spec.to_dict()["tasks"][0]["podTemplate"]["spec"]
    assert dumped == {"hostNetwork": True, "volumes": [{"name": "v", "configMap": {"name": "c"}}]}


def test_dagrun_spec() -> None:
    run = DAGRunSpec.model_validate(
        {
            "dagRef": {"name": "warehouse"},
            "runType": "scheduled",
            "logicalDate": "2024-05-01T00:00:00Z",
            "dataIntervalStart": "2024-05-01T00:00:00Z",
            "dataIntervalEnd": "2024-05-02T00:00:00Z",
            "params": {"table": "clicks"},
        }
    )
    assert run.run_type is RunType.SCHEDULED
    assert run.logical_date == datetime(2024, 5, 1, tzinfo=UTC)
    assert run.cancel is False
    assert run.to_dict()["logicalDate"] == "2024-05-01T00:00:00Z"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"dataIntervalStart": "2024-05-01T00:00:00Z"}, "set both dataIntervalStart and"),
        (
            {
                "dataIntervalStart": "2024-05-02T00:00:00Z",
                "dataIntervalEnd": "2024-05-01T00:00:00Z",
            },
            "dataIntervalEnd is before dataIntervalStart",
        ),
        ({"logicalDate": "2024-05-01T00:00:00"}, "Input should have timezone info"),
        ({"runType": "Manual"}, "Input should be 'scheduled', 'manual' or 'backfill'"),
    ],
)
def test_invalid_dagrun_specs(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DAGRunSpec.model_validate({"dagRef": {"name": "d"}, **data})


def test_dagrun_status_round_trip_and_the_none_state() -> None:
    status = DAGRunStatus(
        state=RunState.RUNNING,
        tasks={"a": TaskStatus(), "b": TaskStatus(state=TaskState.UP_FOR_RETRY, try_number=1)},
    )
    data = status.to_dict()
    assert data["tasks"]["a"] == {"state": "None", "tryNumber": 0}
    assert data["tasks"]["b"]["state"] == "UpForRetry"
    assert DAGRunStatus.model_validate(data) == status
    assert TaskState("None") is TaskState.NONE


def test_status_written_by_a_newer_operator_is_read() -> None:
    resource = {
        "apiVersion": "airkube.io/v1alpha1",
        "kind": "DAGRun",
        "metadata": {"name": "r", "namespace": "n", "uid": "u", "managedFields": []},
        "spec": {"dagRef": {"name": "d"}},
        "status": {"state": "Running", "somethingNew": 1, "tasks": {"a": {"state": "Queued"}}},
    }
    run = DAGRun.model_validate(resource)
    assert run.status is not None
    assert run.status.state is RunState.RUNNING
    assert run.metadata.uid == "u"


def test_models_are_immutable() -> None:
    spec = DAGSpec.model_validate({"tasks": [{"name": "a"}]})
    with pytest.raises(ValidationError):
        spec.paused = True  # type: ignore[misc]
