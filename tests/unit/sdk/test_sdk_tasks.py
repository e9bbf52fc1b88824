"""The SDK's tasks and dependencies: >>, <<, lists, chain, cross_downstream, task groups,
outputs, trigger rules and retries, and the mistakes they refuse."""

from __future__ import annotations

import inspect
from datetime import timedelta
from typing import Any

import pytest

from airkube.core.validation import check_dag
from airkube.sdk import (
    DAG,
    DAGDefinitionError,
    Task,
    TaskGroup,
    TriggerRule,
    chain,
    cross_downstream,
)
from airkube.sdk.locations import Location


def deps(made: DAG) -> dict[str, list[str]]:
    """Each task's dependsOn, as rendered."""
    return {t["name"]: t.get("dependsOn", []) for t in made.to_resource()["spec"]["tasks"]}


def new_dag(name: str = "d") -> DAG:
    return DAG(name, default_args={"image": "busybox"})


def tasks(*names: str) -> list[Task]:
    return [Task(name) for name in names]


def test_shift_operators_set_dependencies_and_return_their_right_side() -> None:
    with new_dag() as made:
        a, b, c, d = tasks("a", "b", "c", "d")
        assert (a >> b) is b
        assert (d << c) is c
    assert deps(made) == {"a": [], "b": ["a"], "c": [], "d": ["c"]}
    assert b.upstream_task_ids == {"a"}
    assert a.downstream_task_ids == {"b"}


def test_lists_fan_out_and_fan_in() -> None:
    with new_dag() as made:
        start, x, y, z, end = tasks("start", "x", "y", "z", "end")
        start >> [x, y, z] >> end
    assert deps(made) == {
        "start": [],
        "x": ["start"],
        "y": ["start"],
        "z": ["start"],
        "end": ["x", "y", "z"],
    }


def test_a_list_on_the_left_and_shifts_to_the_left() -> None:
    with new_dag() as made:
        a, b, c, d = tasks("a", "b", "c", "d")
        [a, b] >> c
        [a, b] << d
        c << a
    assert deps(made) == {"a": ["d"], "b": ["d"], "c": ["a", "b"], "d": []}


def test_set_upstream_and_set_downstream() -> None:
    with new_dag() as made:
        a, b, c = tasks("a", "b", "c")
        b.set_upstream(a)
        b.set_downstream([c])
    assert deps(made) == {"a": [], "b": ["a"], "c": ["b"]}


def test_dependencies_render_in_task_order_whatever_order_they_were_set_in() -> None:
    with new_dag() as made:
        a, b, c = tasks("a", "b", "c")
        c << b
        c << a
        a >> c  # set twice: once
    assert deps(made)["c"] == ["a", "b"]


def test_chain_links_each_item_to_the_next_and_pairs_lists_of_the_same_length() -> None:
    with new_dag() as made:
        a, b, c, d, e, f = tasks("a", "b", "c", "d", "e", "f")
        chain(a, [b, c], [d, e], f)
    assert deps(made) == {
        "a": [],
        "b": ["a"],
        "c": ["a"],
        "d": ["b"],
        "e": ["c"],
        "f": ["d", "e"],
    }


def test_chain_refuses_lists_of_different_lengths() -> None:
    with new_dag():
        a, b, c = tasks("a", "b", "c")
        with pytest.raises(DAGDefinitionError, match="lists of 1 and 2 items cannot be paired"):
            chain([a], [b, c])


def test_cross_downstream_links_every_pair() -> None:
    with new_dag() as made:
        a, b, c, d = tasks("a", "b", "c", "d")
        cross_downstream([a, b], [c, d])
    assert deps(made) == {"a": [], "b": [], "c": ["a", "b"], "d": ["a", "b"]}


def test_task_settings_in_airflow_terms() -> None:
    with new_dag() as made:
        Task(
            "load",
            image="alpine:3",
            command=("sh", "-c"),
            args=["echo {{ ds }}"],
            env={"TABLE": "events"},
            env_from=[{"configMapRef": {"name": "settings"}}],
            resources={"limits": {"memory": "1Gi"}},
            volume_mounts=[{"name": "data", "mountPath": "/data"}],
            image_pull_policy="IfNotPresent",
            retries=3,
            retry_delay=timedelta(minutes=5),
            retry_exponential_backoff=True,
            max_retry_delay=timedelta(hours=1),
            execution_timeout=timedelta(minutes=30),
            pending_timeout=timedelta(minutes=10),
            skip_on_exit_code=[99, 100],
            pod_template={
                "metadata": {"annotations": {"a": "1"}},
                "spec": {"volumes": [{"name": "data", "emptyDir": {}}]},
            },
            annotations={"b": "2"},
            labels={"team": "data"},
            trigger_rule=TriggerRule.ALL_DONE,
        )
    (task,) = made.to_resource()["spec"]["tasks"]
    assert task == {
        "name": "load",
        "image": "alpine:3",
        "command": ["sh", "-c"],
        "args": ["echo {{ ds }}"],
        "imagePullPolicy": "IfNotPresent",
        "env": [{"name": "TABLE", "value": "events"}],
        "envFrom": [{"configMapRef": {"name": "settings"}}],
        "resources": {"limits": {"memory": "1Gi"}},
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        "retries": 3,
        "retryDelay": "5m",
        "retryExponentialBackoff": True,
        "maxRetryDelay": "1h",
        "executionTimeout": "30m",
        "pendingTimeout": "10m",
        "skipOnExitCode": [99, 100],
        "podTemplate": {
            "metadata": {"labels": {"team": "data"}, "annotations": {"a": "1", "b": "2"}},
            "spec": {"volumes": [{"name": "data", "emptyDir": {}}]},
        },
        "triggerRule": "all_done",
    }
    assert check_dag(made.to_resource()["spec"])[1] == []


@pytest.mark.parametrize("rule", [r.value for r in TriggerRule])
def test_every_airflow_trigger_rule_is_accepted_by_name(rule: str) -> None:
    with new_dag() as made:
        a, b = tasks("a", "b")
        Task("c", trigger_rule=rule) << [a, b]
    assert made.to_resource()["spec"]["tasks"][2]["triggerRule"] == rule


def test_an_output_is_a_template_that_makes_its_reader_depend_on_its_writer() -> None:
    with new_dag() as made:
        extract = Task("extract")
        transform_a = Task("transform-a", args=[extract.output])
        load = Task("load", env={"A": transform_a.output}, command=["echo", "x"])
    assert extract.output == "{{ tasks.extract.output }}"
    assert transform_a.output == "{{ tasks['transform-a'].output }}"
    assert deps(made) == {"extract": [], "transform-a": ["extract"], "load": ["transform-a"]}
    assert made.to_resource()["spec"]["tasks"][2]["env"] == [
        {"name": "A", "value": "{{ tasks['transform-a'].output }}"}
    ]
    assert check_dag(made.to_resource()["spec"])[1] == []
    assert load.upstream_list == [transform_a]


# Task groups -------------------------------------------------------------------------------


def test_a_group_prefixes_its_tasks_and_stands_for_them_in_dependencies() -> None:
    with new_dag() as made:
        start = Task("start")
        with TaskGroup("transform") as group:
            clean = Task("clean")
            enrich = Task("enrich")
            check = Task("check")
            clean >> check
            enrich >> check
        end = Task("end")
        start >> group >> end
    assert [t.task_id for t in group.tasks] == [
        "transform-clean",
        "transform-enrich",
        "transform-check",
    ]
    assert group.roots() == [clean, enrich]
    assert group.leaves() == [check]
    assert deps(made) == {
        "start": [],
        "transform-clean": ["start"],
        "transform-enrich": ["start"],
        "transform-check": ["transform-clean", "transform-enrich"],
        "end": ["transform-check"],
    }


def test_nested_groups_prefix_with_each_group_and_prefix_group_id_false_with_none() -> None:
    with new_dag() as made:
        with TaskGroup("outer") as outer:
            Task("a")
            with TaskGroup("inner"):
                Task("b")
            with TaskGroup("flat", prefix_group_id=False):
                Task("c")
        Task("d") << outer
    assert list(deps(made)) == ["outer-a", "outer-inner-b", "c", "d"]
    assert deps(made)["d"] == ["outer-a", "outer-inner-b", "c"]
    assert set(made.task_groups) == {"outer", "outer-inner", "outer-flat"}


def test_group_default_args_apply_to_its_tasks_over_the_dags() -> None:
    with DAG("g", default_args={"image": "busybox", "retries": 1}) as made:
        with TaskGroup("heavy", default_args={"retries": 5, "resources": {"limits": {"cpu": "2"}}}):
            Task("crunch")
            Task("light", retries=0)
        Task("other")
    tasks_ = made.to_resource()["spec"]["tasks"]
    assert tasks_[0] == {
        "name": "heavy-crunch",
        "resources": {"limits": {"cpu": "2"}},
        "retries": 5,
    }
    assert tasks_[1]["retries"] == 0
    assert tasks_[2] == {"name": "other"}


def test_a_group_without_tasks_cannot_be_a_dependency_yet() -> None:
    with new_dag():
        a = Task("a")
        with TaskGroup("later") as group, pytest.raises(DAGDefinitionError, match="no tasks yet"):
            a >> group


def test_group_ids_are_unique_and_usable_in_task_names() -> None:
    with new_dag():
        TaskGroup("g")
        with pytest.raises(DAGDefinitionError, match='task group "g" is defined twice'):
            TaskGroup("g")
        with pytest.raises(DAGDefinitionError, match="must be lowercase letters"):
            TaskGroup("My.Group")


# Mistakes ----------------------------------------------------------------------------------


def test_a_task_name_used_twice_is_an_error_naming_the_first_definition() -> None:
    with new_dag():
        line = inspect.currentframe().f_lineno  # type: ignore[union-attr]
        Task("load")
        with pytest.raises(DAGDefinitionError) as caught:
            Task("load")
    assert str(caught.value) == (
        f'DAG d: task "load" is defined twice (first defined at {Location(__file__, line + 1)}); '
        "task names must be unique"
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"retries": -1}, 'task "t": retries: Input should be greater than or equal to 0'),
        ({"retry_delay": "5 minutes"}, "write it without spaces"),
        ({"retry_delay": True}, "retry_delay"),
        ({"trigger_rule": "all_good"}, "trigger_rule: Input should be 'all_success'"),
        ({"resources": {"limits": {"cpu": "two"}}}, "is not a Kubernetes quantity"),
        ({"env": {"AIRKUBE_X": "1"}, "command": ["x"]}, None),
        ({"image_pull_policy": "Sometimes"}, "image_pull_policy: Input should be"),
        ({"skip_on_exit_code": [0]}, "greater than or equal to 1"),
    ],
)
def test_bad_task_settings_are_errors_at_once(
    settings: dict[str, Any], message: str | None
) -> None:
    with new_dag() as made:
        if message is None:  # reserved env names are a DAG-wide check, like the operator's
            Task("t", **settings)
            problems = check_dag(made.to_resource()["spec"])[1]
            assert [p.reason.value for p in problems] == ["ReservedEnv"]
            return
        with pytest.raises(DAGDefinitionError) as caught:
            Task("t", **settings)
    assert message in str(caught.value)


def test_task_names_must_fit_in_pod_names_group_prefix_included() -> None:
    with new_dag():
        with pytest.raises(DAGDefinitionError, match='task name "Extract_Data" cannot be part'):
            Task("Extract_Data")
        with TaskGroup("g" * 40), pytest.raises(DAGDefinitionError, match="at most 63"):
            Task("t" * 30)


def test_a_task_outside_any_dag_is_an_error() -> None:
    with pytest.raises(DAGDefinitionError, match='task "lonely" belongs to no DAG'):
        Task("lonely")
    with pytest.raises(DAGDefinitionError, match='task group "g" belongs to no DAG'):
        TaskGroup("g")


def test_a_task_may_be_given_its_dag_outside_the_with_block() -> None:
    made = new_dag()
    Task("a", dag=made) >> Task("b", dag=made)
    assert deps(made) == {"a": [], "b": ["a"]}


def test_dependencies_within_one_dag_only_and_never_on_oneself() -> None:
    with new_dag("one"):
        a = Task("a")
    with new_dag("two"):
        b = Task("b")
    with pytest.raises(DAGDefinitionError, match='task "b" of DAG two cannot depend on task "a"'):
        a >> b
    with pytest.raises(DAGDefinitionError, match='task "a" cannot depend on itself'):
        a >> a


def test_only_tasks_and_groups_are_dependencies() -> None:
    with new_dag():
        a = Task("a")
        with pytest.raises(DAGDefinitionError, match="'b' is not a task or a task group"):
            a >> "b"  # type: ignore[type-var]
        with pytest.raises(DAGDefinitionError, match="is not a task or a task group"):
            chain(a, [a, 3])  # type: ignore[list-item]


def test_a_cycle_is_found_by_the_dag_check_and_each_dependency_knows_its_line() -> None:
    with new_dag() as made:
        a, b, c = tasks("a", "b", "c")
        line = inspect.currentframe().f_lineno  # type: ignore[union-attr]
        a >> b >> c
        c >> a
    problems = check_dag(made.to_resource()["spec"])[1]
    assert [p.message for p in problems] == ["tasks form a cycle: a → b → c → a"]
    edges = made.edge_locations()
    assert edges[("a", "b")][1] == Location(__file__, line + 1)
    assert edges[("c", "a")][1] == Location(__file__, line + 2)
    assert edges[("c", "a")][0] > edges[("b", "c")][0] > edges[("a", "b")][0]
