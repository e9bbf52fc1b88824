"""Graph checks and DAG validation: one clear message per problem, naming the task."""

from typing import Any

import pytest

from airkube.api import DAGSpec
from airkube.core.graph import Graph, GraphError, find_cycles
from airkube.core.validation import ProblemReason, check_dag, validate_dag


def spec(*tasks: dict[str, Any], **fields: Any) -> DAGSpec:
    return DAGSpec.model_validate(
        {"defaults": {"image": "busybox"}, "tasks": list(tasks), **fields}
    )


def messages(dag: DAGSpec) -> list[str]:
    return [p.message for p in validate_dag(dag)]


def test_a_valid_dag_has_no_problems() -> None:
    dag = spec(
        {"name": "extract"},
        {"name": "transform", "dependsOn": ["extract"]},
        {"name": "load", "dependsOn": ["transform", "extract"]},
    )
    assert validate_dag(dag) == []


def test_unknown_dependency_names_the_task_and_suggests() -> None:
    dag = spec({"name": "extract"}, {"name": "load", "dependsOn": ["extarct"]})
    [problem] = validate_dag(dag)
    assert problem.reason is ProblemReason.UNKNOWN_DEPENDENCY
    assert problem.task == "load"
    assert problem.message == (
        'task "load" depends on "extarct", which is not a task of this DAG '
        '(did you mean "extract"?)'
    )


def test_unknown_dependency_without_a_close_name() -> None:
    dag = spec({"name": "a", "dependsOn": ["zzz"]})
    assert messages(dag) == ['task "a" depends on "zzz", which is not a task of this DAG']


def test_duplicate_task_names() -> None:
    dag = spec({"name": "a"}, {"name": "b"}, {"name": "a"})
    [problem] = validate_dag(dag)
    assert problem.reason is ProblemReason.DUPLICATE_TASK
    assert problem.message == (
        'task "a" is defined 2 times (tasks[0] and tasks[2]); task names must be unique'
    )


def test_self_dependency() -> None:
    dag = spec({"name": "a", "dependsOn": ["a"]})
    assert messages(dag) == ['task "a" depends on itself']


def test_cycle_is_named_in_data_flow_order() -> None:
    dag = spec(
        {"name": "a", "dependsOn": ["c"]},
        {"name": "b", "dependsOn": ["a"]},
        {"name": "c", "dependsOn": ["b"]},
        {"name": "d", "dependsOn": ["a"]},
    )
    [problem] = validate_dag(dag)
    assert problem.reason is ProblemReason.CYCLE
    assert problem.message == "tasks form a cycle: a → b → c → a"
    assert problem.task == "a"


def test_each_cycle_is_reported_once() -> None:
    dag = spec(
        {"name": "a", "dependsOn": ["b"]},
        {"name": "b", "dependsOn": ["a"]},
        {"name": "x", "dependsOn": ["y"]},
        {"name": "y", "dependsOn": ["x", "a"]},
    )
    assert messages(dag) == [
        "tasks form a cycle: a → b → a",
        "tasks form a cycle: x → y → x",
    ]


def test_find_cycles_picks_a_shortest_cycle_from_the_first_task() -> None:
    upstream = {"a": ["d"], "b": ["a"], "c": ["b"], "d": ["c", "a"]}
    assert find_cycles(upstream) == [["a", "d", "a"]]


def test_find_cycles_handles_long_chains_without_recursion() -> None:
    n = 5000
    upstream = {f"t{i}": [f"t{i - 1}"] if i else [f"t{n - 1}"] for i in range(n)}
    [cycle] = find_cycles(upstream)
    assert len(cycle) == n + 1
    assert cycle[0] == cycle[-1] == "t0"


def test_task_without_image() -> None:
    dag = DAGSpec.model_validate({"tasks": [{"name": "a"}, {"name": "b", "image": "x"}]})
    [problem] = validate_dag(dag)
    assert problem.reason is ProblemReason.MISSING_IMAGE
    assert problem.message == (
        'task "a" has no image: set image on the task or in the DAG defaults'
    )


def test_reserved_env_names() -> None:
    dag = spec({"name": "a", "env": [{"name": "AIRKUBE_TRY", "value": "9"}]})
    [problem] = validate_dag(dag)
    assert problem.reason is ProblemReason.RESERVED_ENV
    assert problem.message.startswith('task "a": env var "AIRKUBE_TRY" is reserved')


def test_repeated_dependency() -> None:
    dag = spec({"name": "a"}, {"name": "b", "dependsOn": ["a", "a"]})
    assert messages(dag) == ['task "b" lists "a" in dependsOn 2 times']


def test_task_name_that_cannot_be_in_a_pod_name_is_caught_even_without_the_model() -> None:
    good = spec({"name": "a"})
    bad_task = good.tasks[0].model_copy(update={"name": "Extract_Data"})
    dag = good.model_copy(update={"tasks": [bad_task]})
    [problem] = validate_dag(dag)
    assert problem.reason is ProblemReason.INVALID_TASK_NAME
    assert 'task name "Extract_Data" cannot be part of a pod name' in problem.message
    assert '"extract-data"' in problem.message


def test_check_dag_reports_model_errors_per_task() -> None:
    raw = {
        "defaults": {"image": "busybox"},
        "tasks": [
            {"name": "extract", "retries": -1},
            {"name": "Load_Data", "triggerRule": "sometimes"},
        ],
    }
    dag, problems = check_dag(raw)
    assert dag is None
    assert {p.reason for p in problems} == {ProblemReason.INVALID_SPEC}
    text = [p.message for p in problems]
    assert text[0] == 'task "extract": retries: Input should be greater than or equal to 0'
    assert text[1].startswith('task name "Load_Data" cannot be part of a pod name')
    assert text[2].startswith('task "Load_Data": triggerRule: Input should be')


def test_check_dag_then_graph_problems() -> None:
    dag, problems = check_dag(
        {"defaults": {"image": "x"}, "tasks": [{"name": "a", "dependsOn": ["b"]}]}
    )
    assert dag is not None
    assert [p.reason for p in problems] == [ProblemReason.UNKNOWN_DEPENDENCY]


def test_check_dag_accepts_a_parsed_spec() -> None:
    dag = spec({"name": "a"})
    assert check_dag(dag) == (dag, [])


def test_problems_are_strings_people_read() -> None:
    dag = spec({"name": "a", "dependsOn": ["a"]})
    assert str(validate_dag(dag)[0]) == 'task "a" depends on itself'


def test_graph_names_a_cycle_in_data_flow_order() -> None:
    dag = spec(
        {"name": "a", "dependsOn": ["c"]},
        {"name": "b", "dependsOn": ["a"]},
        {"name": "c", "dependsOn": ["b"]},
    )
    with pytest.raises(GraphError, match=r"^tasks form a cycle: a → b → c → a$"):
        Graph.from_spec(dag)


def test_graph_order_leaves_and_edges() -> None:
    dag = spec(
        {"name": "load", "dependsOn": ["transform"]},
        {"name": "extract"},
        {"name": "transform", "dependsOn": ["extract"]},
        {"name": "report", "dependsOn": ["extract"]},
    )
    graph = Graph.from_spec(dag)
    assert graph.order.index("extract") < graph.order.index("transform") < graph.order.index("load")
    assert graph.leaves == {"load", "report"}
    assert graph.upstream["load"] == ("transform",)
    assert set(graph.downstream["extract"]) == {"transform", "report"}
    assert Graph.from_spec(dag) == graph


@pytest.mark.parametrize(
    ("tasks", "error"),
    [
        ([{"name": "a", "dependsOn": ["b"]}], 'task "a" depends on unknown task "b"'),
        ([{"name": "a"}, {"name": "a"}], 'task "a" is defined more than once'),
        (
            [{"name": "a", "dependsOn": ["b"]}, {"name": "b", "dependsOn": ["a"]}],
            "tasks form a cycle",
        ),
    ],
)
def test_graph_refuses_invalid_specs(tasks: list[dict[str, Any]], error: str) -> None:
    with pytest.raises(GraphError, match=error):
        Graph.from_spec(spec(*tasks))
