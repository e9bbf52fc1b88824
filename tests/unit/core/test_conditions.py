"""The DAG's Ready condition and condition updates."""

from datetime import timedelta

from plankit import T0

from airkube.api import ConditionStatus, DAGSpec
from airkube.core.conditions import dag_ready_condition, set_condition
from airkube.core.validation import validate_dag


def test_ready_when_valid() -> None:
    condition = dag_ready_condition([], generation=3)
    assert condition.status is ConditionStatus.TRUE
    assert condition.reason == "Valid"
    assert condition.observed_generation == 3


def test_not_ready_names_every_problem() -> None:
    spec = DAGSpec.model_validate(
        {
            "defaults": {"image": "x"},
            "tasks": [{"name": "a", "dependsOn": ["a"]}, {"name": "b", "dependsOn": ["c"]}],
        }
    )
    condition = dag_ready_condition(validate_dag(spec), generation=1)
    assert condition.status is ConditionStatus.FALSE
    assert condition.reason == "SelfDependency"
    assert condition.message == (
        '2 problems: task "a" depends on itself; '
        'task "b" depends on "c", which is not a task of this DAG'
    )


def test_transition_time_moves_only_when_the_status_changes() -> None:
    ready = dag_ready_condition([], generation=1)
    [first] = set_condition(None, ready, T0)
    assert first.last_transition_time == T0
    [same] = set_condition(
        [first], ready.model_copy(update={"observed_generation": 2}), T0 + timedelta(1)
    )
    assert same.last_transition_time == T0
    assert same.observed_generation == 2
    broken = ready.model_copy(update={"status": ConditionStatus.FALSE, "reason": "Cycle"})
    [changed] = set_condition([same], broken, T0 + timedelta(2))
    assert changed.last_transition_time == T0 + timedelta(2)
