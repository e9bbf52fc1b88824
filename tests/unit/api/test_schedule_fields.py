"""The DAG fields of schedules and params: timetable, typed param declarations (free-form
in the CRD), and the status the scheduler writes."""

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from airkube.api import DAG, DAGSpec, DAGStatus, Timetable
from airkube.api.crdgen import dag_crd
from airkube.api.errors import describe_validation_error
from airkube.core.spec_hash import spec_hash

BASE = {"defaults": {"image": "busybox"}, "tasks": [{"name": "a"}]}


def test_timetable_is_interval_or_trigger() -> None:
    assert DAGSpec.model_validate({**BASE, "timetable": "trigger"}).timetable is Timetable.TRIGGER
    assert DAGSpec.model_validate(BASE).timetable is None  # the interval timetable
    with pytest.raises(ValidationError) as caught:
        DAGSpec.model_validate({**BASE, "timetable": "cron"})
    [message] = describe_validation_error(caught.value)
    assert message == "timetable: Input should be 'interval' or 'trigger'"


def test_a_spec_that_does_not_set_the_new_fields_keeps_its_version() -> None:
    spec = DAGSpec.model_validate(BASE)
    assert "timetable" not in spec.to_dict()
    explicit = DAGSpec.model_validate({**BASE, "timetable": "interval"})
    assert spec_hash(explicit) != spec_hash(spec)  # set on purpose: a new version


def test_params_take_plain_defaults_and_declarations() -> None:
    spec = DAGSpec.model_validate(
        {**BASE, "params": {"table": "events", "limit": {"default": 5, "type": "integer"}}}
    )
    assert spec.params == {"table": "events", "limit": {"default": 5, "type": "integer"}}


def _dag_spec_schema() -> dict[str, Any]:
    crd = dag_crd()
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec: dict[str, Any] = schema["properties"]["spec"]["properties"]
    return spec


def test_the_crd_keeps_params_free_form_and_enumerates_timetables() -> None:
    spec = _dag_spec_schema()
    assert spec["params"]["x-kubernetes-preserve-unknown-fields"] is True
    assert spec["timetable"]["enum"] == ["interval", "trigger"]
    assert "default" not in spec["timetable"]


def test_the_status_records_where_the_schedule_stands() -> None:
    dag = DAG.model_validate(
        {
            "metadata": {"name": "etl", "namespace": "ns"},
            "spec": BASE,
            "status": {
                "nextRunTime": "2024-01-02T00:00:00Z",
                "lastScheduledRun": {
                    "name": "etl-scheduled-20240101t000000",
                    "logicalDate": "2024-01-01T00:00:00Z",
                    "dataIntervalStart": "2024-01-01T00:00:00Z",
                    "dataIntervalEnd": "2024-01-02T00:00:00Z",
                },
            },
        }
    )
    assert dag.status is not None
    last = dag.status.last_scheduled_run
    assert last is not None
    assert last.data_interval_end == datetime(2024, 1, 2, tzinfo=UTC)
    assert DAGStatus.model_validate(dag.status.to_dict()) == dag.status
