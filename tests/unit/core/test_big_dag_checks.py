"""Checks of big DAGs stay linear (issue 15): one message per problem, and "did you mean"
hints looked up once per distinct unknown name, for the first few only, against a bounded
set of candidates. (The times are in bench/validate_big.py, not here.)"""

from typing import Any

import pytest

from airkube.core import suggest as suggest_module
from airkube.core.suggest import MAX_CANDIDATES, MAX_SUGGESTED, Suggestions
from airkube.core.validation import ProblemReason, check_dag

TASKS = 10_000


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of candidates of each difflib lookup made."""
    sizes: list[int] = []
    original = suggest_module.get_close_matches

    def counted(word: str, possibilities: list[str], **kwargs: Any) -> list[str]:
        sizes.append(len(possibilities))
        return original(word, possibilities, **kwargs)

    monkeypatch.setattr(suggest_module, "get_close_matches", counted)
    return sizes


def dag(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"defaults": {"image": "busybox"}, "tasks": tasks}


def test_every_task_naming_one_missing_task_gets_one_message_with_the_hint(
    lookups: list[int],
) -> None:
    tasks = [{"name": "load"}] + [{"name": f"t{i}", "dependsOn": ["lod"]} for i in range(TASKS - 1)]
    _spec, problems = check_dag(dag(tasks))
    assert len(problems) == TASKS - 1
    assert {p.reason for p in problems} == {ProblemReason.UNKNOWN_DEPENDENCY}
    assert problems[0].message == (
        'task "t0" depends on "lod", which is not a task of this DAG (did you mean "load"?)'
    )
    assert all(p.message.endswith('(did you mean "load"?)') for p in problems)
    assert [p.task for p in problems] == [f"t{i}" for i in range(TASKS - 1)]
    assert len(lookups) == 1


def test_many_distinct_missing_tasks_get_hints_for_the_first_ones_only(
    lookups: list[int],
) -> None:
    tasks = [{"name": f"task-{i}", "dependsOn": [f"task-{i}x"]} for i in range(TASKS)]
    _spec, problems = check_dag(dag(tasks))
    assert len(problems) == TASKS
    hinted = [p for p in problems if "did you mean" in p.message]
    assert hinted == problems[:MAX_SUGGESTED]
    assert hinted[0].message == (
        'task "task-0" depends on "task-0x", which is not a task of this DAG '
        '(did you mean "task-0"?)'
    )
    assert problems[-1].message == (
        f'task "task-{TASKS - 1}" depends on "task-{TASKS - 1}x", which is not a task of this DAG'
    )
    assert len(lookups) == MAX_SUGGESTED
    assert max(lookups) <= MAX_CANDIDATES


def test_template_references_to_missing_tasks_share_the_bound(lookups: list[int]) -> None:
    tasks = [
        {"name": f"t{i}", "args": ["{{ tasks.t" + str(i) + "x.output }}"]} for i in range(2000)
    ]
    _spec, problems = check_dag(dag(tasks))
    assert len(problems) == 2000
    assert problems[0].message.endswith('"t0x" is not a task of this DAG (did you mean "t0"?)')
    assert len(lookups) <= MAX_SUGGESTED


def test_a_pod_field_typo_shared_by_many_tasks_is_looked_up_once(lookups: list[int]) -> None:
    typo = {"spec": {"nodeSelecter": {"disk": "ssd"}}}
    tasks = [{"name": f"t{i}", "podTemplate": typo} for i in range(TASKS)]
    _spec, problems = check_dag(dag(tasks))
    assert len(problems) == TASKS
    assert all('(did you mean "nodeSelector"?)' in p.message for p in problems)
    assert len(lookups) <= 1


def test_one_cycle_through_every_task_is_one_problem() -> None:
    tasks = [{"name": f"t{i}", "dependsOn": [f"t{(i - 1) % TASKS}"]} for i in range(TASKS)]
    _spec, problems = check_dag(dag(tasks))
    assert [p.reason for p in problems] == [ProblemReason.CYCLE]
    assert problems[0].message.startswith("tasks form a cycle: t0 → t1 → t2")


def test_suggestions_prefer_the_closest_length_and_stop_after_the_bound() -> None:
    suggestions = Suggestions(["extract", "transform", "load"])
    assert suggestions.hint("extrat") == ' (did you mean "extract"?)'
    assert suggestions.hint("zzzzzz") == ""
    for i in range(MAX_SUGGESTED):
        suggestions.closest(f"unknown-{i}")
    assert suggestions.closest("lod") is None  # past the bound
    assert suggestions.hint("extrat") == ' (did you mean "extract"?)'  # remembered


def test_a_name_used_by_every_task_is_one_bounded_message() -> None:
    _spec, problems = check_dag(dag([{"name": "same"} for _ in range(TASKS)]))
    assert [(p.reason, p.message) for p in problems] == [
        (
            ProblemReason.DUPLICATE_TASK,
            f'task "same" is defined {TASKS} times (tasks[0], tasks[1], tasks[2], tasks[3], '
            f"tasks[4] and {TASKS - 5} more); task names must be unique",
        )
    ]
