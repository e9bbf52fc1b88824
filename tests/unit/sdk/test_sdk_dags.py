"""The SDK's DAG: Airflow's argument names rendered as the resource's fields, defaults,
params, and mistakes reported where they are made."""

from __future__ import annotations

import inspect
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from airkube.api import DAGSpec
from airkube.core.validation import check_dag
from airkube.sdk import DAG, DAGDefinitionError, Param, PodGCStrategy, Task, current_dag, dag
from airkube.sdk.locations import Location


def spec_of(made: DAG) -> dict[str, Any]:
    spec: dict[str, Any] = made.to_resource()["spec"]
    return spec


def test_a_dag_renders_only_what_was_set_as_the_resource() -> None:
    with DAG("hello", description="Say hello.") as made:
        Task("say-hello", image="busybox:1.36", command=["echo", "hello"])
    assert made.to_resource() == {
        "apiVersion": "airkube.io/v1alpha1",
        "kind": "DAG",
        "metadata": {"name": "hello"},
        "spec": {
            "description": "Say hello.",
            "tasks": [{"name": "say-hello", "image": "busybox:1.36", "command": ["echo", "hello"]}],
        },
    }
    spec, problems = check_dag(made.to_resource()["spec"])
    assert problems == []
    assert spec == made.to_spec()


def test_airflow_names_map_to_the_resource_fields() -> None:
    with DAG(
        "report",
        schedule="0 2 * * *",
        timetable="trigger",
        timezone="Europe/Berlin",
        start_date=date(2024, 1, 1),
        end_date=datetime(2024, 1, 3, 2, 0),
        catchup=True,
        paused=False,
        max_active_runs=1,
        max_active_tasks=4,
        dagrun_timeout=timedelta(hours=1, minutes=30),
        successful_runs_history_limit=3,
        failed_runs_history_limit=5,
        pod_gc=PodGCStrategy.ON_RUN_COMPLETION,
        labels={"team": "data"},
        annotations={"owner": "ana"},
    ) as made:
        Task("run", image="busybox")
    resource = made.to_resource()
    assert resource["metadata"] == {
        "name": "report",
        "labels": {"team": "data"},
        "annotations": {"owner": "ana"},
    }
    spec = dict(resource["spec"])
    del spec["tasks"]
    assert spec == {
        "schedule": "0 2 * * *",
        "timetable": "trigger",
        "timezone": "Europe/Berlin",
        "startDate": "2024-01-01T00:00:00",
        "endDate": "2024-01-03T02:00:00",
        "catchup": True,
        "paused": False,
        "maxActiveRuns": 1,
        "maxActiveTasks": 4,
        "dagrunTimeout": "1h30m",
        "successfulRunsHistoryLimit": 3,
        "failedRunsHistoryLimit": 5,
        "podGC": {"strategy": "OnRunCompletion"},
    }


def test_the_start_dates_zone_is_the_dags_timezone_as_in_airflow() -> None:
    with DAG("zoned", start_date=datetime(2024, 1, 1, tzinfo=ZoneInfo("Europe/Paris"))) as made:
        Task("t", image="busybox")
    spec = spec_of(made)
    assert spec["timezone"] == "Europe/Paris"
    assert spec["startDate"] == "2024-01-01T00:00:00+01:00"

    with DAG("utc", timezone=ZoneInfo("America/New_York")) as other:
        Task("t", image="busybox")
    assert spec_of(other)["timezone"] == "America/New_York"


@pytest.mark.parametrize(
    ("value", "rendered"),
    [(timedelta(minutes=5), "5m"), (90, "1m30s"), (0.5, "500ms"), ("2h", "2h")],
)
def test_durations_are_timedeltas_seconds_or_go_strings(value: Any, rendered: str) -> None:
    with DAG("d", dagrun_timeout=value, default_args={"image": "x", "retry_delay": value}) as m:
        Task("t", execution_timeout=value, max_retry_delay=value, pending_timeout=value)
    spec = spec_of(m)
    assert spec["dagrunTimeout"] == rendered
    assert spec["defaults"]["retryDelay"] == rendered
    assert spec["tasks"][0]["executionTimeout"] == rendered
    assert spec["tasks"][0]["maxRetryDelay"] == rendered
    assert spec["tasks"][0]["pendingTimeout"] == rendered


def test_default_args_become_the_defaults_and_a_tasks_own_value_wins() -> None:
    with DAG(
        "defaults",
        default_args={
            "image": "busybox:1.36",
            "retries": 2,
            "retry_delay": timedelta(seconds=30),
            "retry_exponential_backoff": True,
            "env": {"DAY": "{{ ds }}", "TOKEN": {"secretKeyRef": {"name": "s", "key": "k"}}},
            "resources": {"requests": {"cpu": "100m"}},
            "annotations": {"a": "1"},
            "trigger_rule": "all_done",
        },
    ) as made:
        Task("inherits")
        Task("overrides", image="alpine", retries=0, trigger_rule="one_success")
    spec = spec_of(made)
    assert spec["defaults"] == {
        "image": "busybox:1.36",
        "env": [
            {"name": "DAY", "value": "{{ ds }}"},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        ],
        "resources": {"requests": {"cpu": "100m"}},
        "retries": 2,
        "retryDelay": "30s",
        "retryExponentialBackoff": True,
        "podTemplate": {"metadata": {"annotations": {"a": "1"}}},
    }
    # trigger_rule has no place in the resource's defaults: each task gets it.
    assert spec["tasks"] == [
        {"name": "inherits", "triggerRule": "all_done"},
        {"name": "overrides", "image": "alpine", "retries": 0, "triggerRule": "one_success"},
    ]


def test_params_are_plain_defaults_or_param_declarations() -> None:
    with DAG(
        "params",
        params={
            "table": "events",
            "limit": Param(1000, type="integer", minimum=1, maximum=10_000),
            "mode": Param("full", enum=["full", "delta"], description="How much to load."),
            "name": Param(type="string", min_length=1, max_length=20),
            "nullable": Param(None, type=["integer", "null"]),
        },
    ) as made:
        Task("t", image="busybox", command=["echo", "{{ params.table }}"])
    assert spec_of(made)["params"] == {
        "table": "events",
        "limit": {"default": 1000, "type": "integer", "minimum": 1, "maximum": 10_000},
        "mode": {"default": "full", "enum": ["full", "delta"], "description": "How much to load."},
        "name": {"type": "string", "minLength": 1, "maxLength": 20},
        "nullable": {"default": None, "type": ["integer", "null"]},
    }
    assert check_dag(spec_of(made))[1] == []


def test_the_dag_decorator_names_the_dag_after_the_function() -> None:
    @dag(schedule="@daily", default_args={"image": "busybox"})
    def nightly_report(table: str) -> None:
        Task("report", command=["echo", table])

    made = nightly_report("events")
    assert made.dag_id == "nightly-report"
    assert spec_of(made)["schedule"] == "@daily"
    assert spec_of(made)["tasks"] == [{"name": "report", "command": ["echo", "events"]}]

    @dag
    def bare() -> None:
        Task("t", image="busybox")

    assert bare().dag_id == "bare"


def test_the_context_is_the_innermost_with_block() -> None:
    assert current_dag() is None
    with DAG("outer") as outer:
        assert current_dag() is outer
        with DAG("inner") as inner:
            assert current_dag() is inner
        assert current_dag() is outer
    assert current_dag() is None


def test_a_dag_and_its_tasks_know_the_lines_that_define_them() -> None:
    line = here()
    with DAG("located", default_args={"image": "busybox"}) as made:
        first = Task("first")
    assert made.location == Location(__file__, line + 1)
    assert first.location == Location(__file__, line + 2)
    assert made.task_locations() == {"first": Location(__file__, line + 2)}


def here() -> int:
    """The caller's line."""
    frame = inspect.currentframe()
    assert frame is not None
    assert frame.f_back is not None
    return frame.f_back.f_lineno


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: DAG("My_ETL"), 'DAG id "My_ETL" cannot name a Kubernetes resource'),
        (lambda: DAG("x", schedule="@fortnightly"), 'schedule "@fortnightly" is not a known'),
        (lambda: DAG("x", schedule="* * *"), "has 3 fields"),
        (
            lambda: DAG("x", schedule=timedelta(hours=1)),  # type: ignore[arg-type]
            "timedelta schedules are not supported",
        ),
        (lambda: DAG("x", timezone="Mars/Olympus"), 'timezone "Mars/Olympus" is not an IANA'),
        (
            lambda: DAG("x", max_active_runs=0),
            "DAG x: max_active_runs: Input should be greater than or equal to 1",
        ),
        (lambda: DAG("x", dagrun_timeout="1d"), "days are not a unit"),
        (lambda: DAG("x", pod_gc="Sometimes"), "pod_gc.strategy: Input should be"),
        (
            lambda: DAG("x", start_date=date(2024, 2, 1), end_date=date(2024, 1, 1)),
            "endDate is before startDate",
        ),
        (lambda: DAG("x", params={"bad-name": 1}), 'param name "bad-name"'),
        (
            lambda: DAG("x", default_args={"owner": "ana", "email_on_failure": True}),
            "DAG x: default_args: 'owner', 'email_on_failure' are not supported by airkube",
        ),
        (lambda: DAG("x", default_args={"retries": -1}), "default_args: retries: Input should"),
    ],
)
def test_mistakes_in_a_dags_arguments_are_errors_at_once(make: Any, message: str) -> None:
    with pytest.raises(DAGDefinitionError) as caught:
        make()
    assert message in str(caught.value)


def test_a_dag_without_tasks_cannot_be_rendered_and_says_where_it_is() -> None:
    empty = DAG("empty")
    with pytest.raises(DAGDefinitionError, match="DAG empty has no tasks") as caught:
        empty.to_resource()
    assert caught.value.location == empty.location


def test_what_the_sdk_renders_is_what_the_models_accept() -> None:
    with DAG("roundtrip", default_args={"image": "busybox"}, params={"x": Param(1)}) as made:
        Task(
            "t",
            retries=3,
            skip_on_exit_code=(99, 100),
            pod_template={"spec": {"nodeSelector": {"a": "b"}}},
        )
    spec = made.to_resource()["spec"]
    assert (
        DAGSpec.model_validate(spec).model_dump(
            mode="json", by_alias=True, exclude_none=True, exclude_unset=True
        )
        == spec
    )
