"""Extreme dates on a real API server (issue 15): a DAGRun or DAG date outside years
1970 to 9000, or with an offset of a day or more, is refused by the API server naming the
field, and a good run of the same DAG, with maxActiveRuns 1, still starts and succeeds.
(A run the operator itself refuses, as it would one created under an older CRD, fails with
reason InvalidSpec: see the unit tests.)"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .operator_process import OperatorProcess
from .resources import TERMINAL, apply_dag, create_run, sim, state, task
from .waiting import watch_run

BAD_DATES = [
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "0001-01-01T12:00:00+14:00",
    "0000-01-01T00:00:00Z",
    "2026-01-01T00:00:00+25:00",
]


def finished(run: dict[str, Any]) -> bool:
    return state(run) in TERMINAL


def test_a_run_out_of_range_gets_a_verdict_and_a_good_run_of_the_dag_finishes(
    operator: OperatorProcess, custom: client.CustomObjectsApi, namespace: str
) -> None:
    apply_dag(
        custom,
        namespace,
        "dates",
        schedule="@daily",
        startDate="2026-01-01",
        maxActiveRuns=1,
        defaults={"podTemplate": sim(duration="300ms")},
        tasks=[task("a")],
    )
    accepted, refusals = [], []
    for i, date in enumerate(BAD_DATES):
        try:
            create_run(custom, namespace, f"dates-bad-{i}", "dates", logicalDate=date)
        except ApiException as e:
            refusals.append((e.status, str(e.body)))
        else:
            accepted.append(f"dates-bad-{i}")
    for status, body in refusals:
        assert status == 422, body
        assert "spec.logicalDate" in body
    # The CRD's pattern refuses every year outside the range and every offset of a day.
    assert accepted == []
    assert len(refusals) == len(BAD_DATES)
    create_run(custom, namespace, "dates-good", "dates", logicalDate="2026-06-01T00:00:00+14:00")
    good = watch_run(custom, namespace, "dates-good", finished, timeout=60)
    assert state(good) == "Succeeded", good["status"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("startDate", "9999-12-31"),
        ("startDate", "0000-01-01"),
        ("endDate", "2026-01-01T00:00+25:00"),
    ],
)
def test_a_dag_date_out_of_range_is_refused_by_the_api_server(
    custom: client.CustomObjectsApi, namespace: str, field: str, value: str
) -> None:
    with pytest.raises(ApiException) as refused:
        apply_dag(custom, namespace, "far", schedule="@daily", tasks=[task("a")], **{field: value})
    assert refused.value.status == 422
    assert f"spec.{field}" in str(refused.value.body)
