"""Deterministic run names: the same (DAG, run type, logical date) always gives the same
valid DAGRun name."""

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from airkube.api import RunType
from airkube.core.run_names import (
    NAME_MAX_LENGTH,
    backfill_run_name,
    manual_run_name,
    run_name,
    scheduled_run_name,
)

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
WHEN = datetime(2026, 11, 24, 6, 30, 15, 123456, tzinfo=UTC)


def test_names_by_run_type() -> None:
    assert scheduled_run_name("etl", WHEN) == "etl-scheduled-20261124t063015"
    assert backfill_run_name("etl", WHEN) == "etl-backfill-20261124t063015"
    assert manual_run_name("etl", WHEN) == "etl-manual-20261124t063015"


def test_the_stamp_is_the_logical_date_in_utc() -> None:
    paris = WHEN.astimezone(timezone(timedelta(hours=1)))
    assert scheduled_run_name("etl", paris) == scheduled_run_name("etl", WHEN)


def test_the_manual_name_is_the_clis_historic_format() -> None:
    stamp = WHEN.astimezone(UTC).strftime("%Y%m%dt%H%M%S")
    assert manual_run_name("etl", WHEN) == f"etl-manual-{stamp}"


@pytest.mark.parametrize("run_type", list(RunType))
def test_long_dag_names_are_cut_with_a_hash_and_stay_valid(run_type: RunType) -> None:
    a = "a" * 250
    b = "a" * 249 + "b"
    name_a, name_b = run_name(a, run_type, WHEN), run_name(b, run_type, WHEN)
    for name in (name_a, name_b):
        assert len(name) <= NAME_MAX_LENGTH
        assert DNS_SUBDOMAIN.fullmatch(name)
        assert name.endswith(f"-{run_type.value}-20261124t063015")
    assert name_a != name_b


def test_a_naive_logical_date_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        scheduled_run_name("etl", datetime(2026, 1, 1))


def test_a_new_dagrun_is_labelled_with_its_dag_even_when_the_name_is_long() -> None:
    from airkube.api import DagRef, DAGRunSpec
    from airkube.api.names import is_label_value
    from airkube.core.run_names import dagrun_manifest

    dag = "a-dag-with-a-name-much-longer-than-the-sixty-three-characters-of-a-label.daily"
    body = dagrun_manifest("ns", "run-1", DAGRunSpec(dag_ref=DagRef(name=dag)))
    label = body["metadata"]["labels"]["airkube.io/dag"]
    assert is_label_value(label)
    assert label.startswith("a-dag-with-a-name")
    assert body["spec"]["dagRef"] == {"name": dag}
    assert (body["apiVersion"], body["kind"], body["metadata"]["name"]) == (
        "airkube.io/v1alpha1",
        "DAGRun",
        "run-1",
    )
    short = dagrun_manifest("ns", "run-2", DAGRunSpec(dag_ref=DagRef(name="etl")))
    assert short["metadata"]["labels"] == {"airkube.io/dag": "etl"}
