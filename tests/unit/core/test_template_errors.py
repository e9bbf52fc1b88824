"""Every kind of broken template is one clear line, never an exception out of airkube:
a DAG problem naming the task and field when it can never render (validation, the Ready
condition), a RenderError when it breaks only with the values of a run (the task fails
with reason TemplateError)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from plankit import World

from airkube.api import ConditionStatus, DAGSpec, TaskState, TaskStatus
from airkube.core.conditions import dag_ready_condition
from airkube.core.model.reasons import Reason
from airkube.core.resolve import resolve_task
from airkube.core.templates import (
    MAX_LOOP_ITERATIONS,
    MAX_RENDERED_LENGTH,
    RenderError,
    check_template,
    make_renderer,
    template_problems,
)
from airkube.core.timetables import DataInterval
from airkube.core.validation import ProblemReason, check_dag, validate_dag

LOGICAL = datetime(2026, 11, 24, tzinfo=UTC)
NO_LOADER = "templates cannot include, import or extend other templates"

NEVER_RENDER = [
    # unknown filters and tests (the bug of issue 13: the first raised out of validation)
    ("{{ ds | nosuchfilter }}", 'unknown filter "nosuchfilter"'),
    ("{{ ds | uper }}", 'unknown filter "uper" (did you mean "upper"?)'),
    ("{% filter shout %}x{% endfilter %}", 'unknown filter "shout" (did you mean "sort"?)'),
    ("{% if ds is nosuchtest %}x{% endif %}", 'unknown test "nosuchtest"'),
    ("{{ ds is od }}", 'unknown test "od" (did you mean "odd"?)'),
    # syntax
    (
        "{{ ds ",
        "template syntax error on line 1: unexpected end of template, expected "
        "'end of print statement'.",
    ),
    ("{% foo %}", "template syntax error on line 1: Encountered unknown tag 'foo'."),
    ("{{ 1 +* 2 }}", "template syntax error on line 1: unexpected '*'"),
    (
        "a\n{{ ds }}\n{% endif %}",
        "template syntax error on line 3: Encountered unknown tag 'endif'.",
    ),
    ("{# open", "template syntax error on line 1: Missing end of comment tag"),
    ("{% raw %}{{ ds }}", "template syntax error on line 1: Missing end of raw directive"),
    (
        "{% block b %}{% endblock %}{% block b %}{% endblock %}",
        "template syntax error on line 1: block 'b' defined twice",
    ),
    # other templates: there are none to load
    ("{% include 'common.sql' %}", NO_LOADER),
    ("{% extends 'base' %}", NO_LOADER),
    ("{% import 'macros' as m %}", NO_LOADER),
    ("{% from 'macros' import f %}", NO_LOADER),
    # names
    ("{{ nope }}", '"nope" is undefined'),
    ("{{ ds_nodahs }}", '"ds_nodahs" is undefined (did you mean "ds_nodash"?)'),
    (
        "{{ tasks.extrct.output }}",
        'tasks.extrct is undefined: "extrct" is not a task of this DAG (did you mean "extract"?)',
    ),
    # what Python itself refuses while reading the template
    ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "the template nests or recurses too deeply"),
    (
        "{{ " + "9" * 5000 + " }}",
        "ValueError: Exceeds the limit (4300 digits) for integer "
        "string conversion: value has 5000 digits; use sys.set_int_max_str_digits() to increase "
        "the limit",
    ),
]

ONLY_WITH_VALUES = [
    ("{{ ds + 1 }}", 'TypeError: can only concatenate str (not "int") to str'),
    ("{{ 1 / 0 }}", "ZeroDivisionError: division by zero"),
    ("{{ params.table.nope }}", "'str object' has no attribute 'nope'"),
    (
        "{{ params['limit'] | round(2, 'sideways') }}",
        "method must be common, ceil or floor",
    ),
    ("{{ [] | first }}", "No first item, sequence was empty."),
    ("{{ '%d' % ds }}", "TypeError: %d format: a real number is required, not str"),
    ("{{ 10.0 ** 400 }}", "OverflowError: (34, 'Numerical result out of range')"),
    (
        "{{ logical_date | in_timezone('Mars/Olympus') }}",
        "ZoneInfoNotFoundError: 'No time zone found with key Mars/Olympus'",
    ),
    (
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
        "the template nests or recurses too deeply",
    ),
    (
        "{{ ''.__class__ }}",
        "not allowed: access to attribute '__class__' of 'str' object is unsafe.",
    ),
    (
        "{{ 'a' * 100000000 }}",
        "not allowed: repeating a value that many times is not allowed in a template",
    ),
    (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        f"not allowed: templates may loop at most {MAX_LOOP_ITERATIONS} times",
    ),
    (
        "{% for i in range(20000) %}0123456789{% endfor %}",
        f"the rendered value is longer than the limit of {MAX_RENDERED_LENGTH} characters",
    ),
    (
        "{{ tasks.extract.output }}",
        'tasks.extract.output: task "extract" has no output: it is Failed, not Succeeded',
    ),
]


def spec_with(template: str, where: str = "args") -> DAGSpec:
    load: dict[str, Any] = {"name": "load", "dependsOn": ["extract"]}
    if where == "env":
        load["env"] = [{"name": "TABLE", "value": template}]
    else:
        load[where] = ["run", template]
    return DAGSpec.model_validate(
        {
            "defaults": {"image": "busybox"},
            "params": {"table": "events", "limit": 10},
            "tasks": [{"name": "extract"}, load],
        }
    )


def render_load(spec: DAGSpec) -> None:
    renderer = make_renderer(
        dag="etl",
        run_id="r",
        logical_date=LOGICAL,
        data_interval=DataInterval(LOGICAL, LOGICAL + timedelta(days=1)),
        params={"table": "events", "limit": 10},
    )
    states = {"extract": TaskStatus(state=TaskState.FAILED, try_number=1), "load": TaskStatus()}
    renderer(resolve_task(spec, spec.tasks[1]), 1, states)


def one_line(message: str) -> None:
    assert message
    assert "\n" not in message
    assert "Traceback" not in message


@pytest.mark.parametrize(("template", "message"), NEVER_RENDER)
def test_a_template_that_can_never_render_is_one_dag_problem(template: str, message: str) -> None:
    assert check_template(template, {"extract", "load"}) == [message]
    spec = spec_with(template)
    [problem] = validate_dag(spec)
    assert problem.reason is ProblemReason.BAD_TEMPLATE
    assert problem.task == "load"
    assert problem.message == f'task "load": args[1]: {message}'
    one_line(problem.message)


@pytest.mark.parametrize(("template", "message"), NEVER_RENDER)
def test_the_dag_is_not_ready_and_says_why(template: str, message: str) -> None:
    _, problems = check_dag(spec_with(template, "env").to_dict())
    condition = dag_ready_condition(problems, generation=2)
    assert condition.status is ConditionStatus.FALSE
    assert condition.reason == "BadTemplate"
    assert condition.message == f'task "load": env[TABLE]: {message}'


@pytest.mark.parametrize(("template", "message"), NEVER_RENDER + ONLY_WITH_VALUES)
def test_rendering_any_broken_template_raises_one_render_error(template: str, message: str) -> None:
    with pytest.raises(RenderError) as caught:
        render_load(spec_with(template, "command"))
    assert str(caught.value) == f"command[1]: {message}"
    one_line(str(caught.value))


@pytest.mark.parametrize(("template", "message"), ONLY_WITH_VALUES)
def test_what_only_values_break_is_no_dag_problem(template: str, message: str) -> None:
    assert check_template(template, {"extract", "load"}) == []
    assert validate_dag(spec_with(template)) == []


@pytest.mark.parametrize(
    ("template", "message"),
    [NEVER_RENDER[0], NEVER_RENDER[12], ONLY_WITH_VALUES[0], ONLY_WITH_VALUES[8]],
)
def test_the_planner_fails_the_task_with_reason_template_error(template: str, message: str) -> None:
    spec = DAGSpec.model_validate(
        {"defaults": {"image": "busybox"}, "tasks": [{"name": "load", "args": [template]}]}
    )
    renderer = make_renderer(
        dag="etl", run_id="r", logical_date=LOGICAL, data_interval=None, params={}
    )
    w = World(spec)
    p = w.step(renderer=renderer)
    assert not p.creates
    assert w.states() == {"load": "Failed"}
    assert w.tasks["load"].reason == Reason.TEMPLATE_ERROR
    assert w.tasks["load"].message == f"args[0]: {message}"


def test_every_problem_of_a_template_is_told_not_only_the_first() -> None:
    assert sorted(check_template("{{ ds | uper | lowr }}{% if ds is od %}{% endif %}", set())) == [
        'unknown filter "lowr" (did you mean "lower"?)',
        'unknown filter "uper" (did you mean "upper"?)',
        'unknown test "od" (did you mean "odd"?)',
    ]
    assert check_template("{{ a }}{{ b }}", set()) == ['"a" is undefined', '"b" is undefined']


def test_every_field_and_the_defaults_are_checked() -> None:
    spec = DAGSpec.model_validate(
        {
            "defaults": {"image": "x", "env": [{"name": "D", "value": "{{ ds | nope }}"}]},
            "tasks": [
                {
                    "name": "a",
                    "command": ["{{ ds | nope }}"],
                    "args": ["ok {{ ds }}", "{{ ds | nope }}"],
                    "env": [{"name": "E", "value": "{{ ds | nope }}"}],
                }
            ],
        }
    )
    problems = template_problems(spec)
    assert [(p.task, p.field) for p in problems] == [
        (None, "env[D]"),
        ("a", "command[0]"),
        ("a", "args[1]"),
        ("a", "env[E]"),
    ]
    assert {p.message for p in problems} == {'unknown filter "nope"'}
