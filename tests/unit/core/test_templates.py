"""Templates: Airflow's variables in command, args and env; StrictUndefined errors naming
the field and the variable; the sandbox; upstream outputs; the planner failing only the
task whose templates break; the render-task preview; DAG validation of templates."""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from plankit import World

from airkube.api import DAGRunSpec, DAGSpec, TaskState, TaskStatus
from airkube.api.container import EnvVar
from airkube.core.model.observed import PodPhase
from airkube.core.model.reasons import Reason
from airkube.core.model.render import RenderError
from airkube.core.model.run import Run
from airkube.core.params import ParamsError
from airkube.core.resolve import ResolvedTask, resolve_task
from airkube.core.templates import (
    MAX_LOOP_ITERATIONS,
    MAX_RENDERED_LENGTH,
    make_renderer,
    render_task_preview,
    run_renderer,
    template_problems,
)
from airkube.core.timetables import DataInterval
from airkube.core.validation import ProblemReason, validate_dag

LOGICAL = datetime(2026, 11, 24, tzinfo=UTC)
INTERVAL = DataInterval(LOGICAL, LOGICAL + timedelta(days=1))
SUCCEEDED = TaskStatus(state=TaskState.SUCCEEDED, try_number=1, output="s3://bucket/x.csv")


def dag(*tasks: Mapping[str, Any], **fields: Any) -> DAGSpec:
    return DAGSpec.model_validate(
        {"defaults": {"image": "busybox"}, "tasks": list(tasks), **fields}
    )


def task(**fields: Any) -> ResolvedTask:
    spec = dag({"name": "load", **fields}, {"name": "extract"})
    return resolve_task(spec, spec.tasks[0])


def render(
    the_task: ResolvedTask,
    *,
    params: Mapping[str, Any] | None = None,
    tasks: Mapping[str, TaskStatus] | None = None,
    try_number: int = 1,
) -> ResolvedTask:
    renderer = make_renderer(
        dag="etl",
        run_id="etl-scheduled-20261124t000000",
        logical_date=LOGICAL,
        data_interval=INTERVAL,
        params=params if params is not None else {"table": "events", "limit": 10},
    )
    states = tasks if tasks is not None else {"extract": SUCCEEDED, "load": TaskStatus()}
    return renderer(the_task, try_number, states)


def one(template: str, **kwargs: Any) -> str:
    rendered = render(task(args=[template]), **kwargs)
    assert rendered.args is not None
    return rendered.args[0]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ ds }}", "2026-11-24"),
        ("{{ ds_nodash }}", "20261124"),
        ("{{ ts }}", "2026-11-24T00:00:00+00:00"),
        ("{{ ts_nodash }}", "20261124T000000"),
        ("{{ ts_nodash_with_tz }}", "20261124T000000+0000"),
        ("{{ logical_date.strftime('%Y/%m') }}", "2026/11"),
        ("{{ logical_date.year }}", "2026"),
        ("{{ data_interval_start }}", "2026-11-24 00:00:00+00:00"),
        ("{{ data_interval_end.isoformat() }}", "2026-11-25T00:00:00+00:00"),
        ("{{ (data_interval_end - data_interval_start).days }}", "1"),
        ("{{ run_id }}", "etl-scheduled-20261124t000000"),
        ("{{ dag }}", "etl"),
        ("{{ task }}", "load"),
        ("{{ try_number }}", "2"),
        ("{{ params.table }}", "events"),
        ("{{ params['limit'] * 2 }}", "20"),
        ("{{ tasks.extract.output }}", "s3://bucket/x.csv"),
        ("{{ tasks['extract'].output }}", "s3://bucket/x.csv"),
        ("{{ logical_date | in_timezone('Europe/Paris') }}", "2026-11-24 01:00:00+01:00"),
        ("{% for i in range(3) %}{{ i }}{% endfor %}", "012"),
        ("{{ params.missing | default('x') }}", "x"),
        ("{% if params.missing is defined %}y{% else %}n{% endif %}", "n"),
    ],
)
def test_every_variable(template: str, expected: str) -> None:
    assert one(template, try_number=2) == expected


def test_the_logical_date_is_in_utc_whatever_its_offset() -> None:
    renderer = make_renderer(
        dag="etl",
        run_id="r",
        logical_date=datetime(2026, 11, 24, 1, tzinfo=timezone(timedelta(hours=1))),
        data_interval=None,
        params={},
    )
    rendered = renderer(task(args=["{{ ts }} {{ data_interval_end }}"]), 1, {})
    assert rendered.args == ("2026-11-24T00:00:00+00:00 2026-11-24 00:00:00+00:00",)


def test_command_args_and_env_values_are_rendered_and_the_rest_is_kept() -> None:
    the_task = task(
        command=["sh", "-c", "echo {{ ds }}\n"],
        args=["--table={{ params.table }}", "plain {not a template}"],
        env=[
            {"name": "DAY", "value": "{{ ds_nodash }}"},
            {"name": "PLAIN", "value": "x"},
            {"name": "SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "{{ ds }}"}}},
        ],
        image="busybox:{{ ds }}",
    )
    rendered = render(the_task)
    assert rendered.command == ("sh", "-c", "echo 2026-11-24\n")  # trailing newline kept
    assert rendered.args == ("--table=events", "plain {not a template}")
    assert rendered.env == (
        EnvVar(name="DAY", value="20261124"),
        EnvVar(name="PLAIN", value="x"),
        EnvVar(name="SECRET", value_from={"secretKeyRef": {"name": "s", "key": "{{ ds }}"}}),
    )
    assert rendered.image == "busybox:{{ ds }}"  # only command, args and env are templates


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"command": ["echo", "{{ ds_nodas }}"]},
            'command[1]: "ds_nodas" is undefined (did you mean "ds_nodash"?)',
        ),
        (
            {"args": ["a", "{{ params.tabel }}"]},
            "args[1]: params.tabel is undefined: no param tabel (params: limit, table) "
            '(did you mean "table"?)',
        ),
        (
            {"env": [{"name": "FOO", "value": "{{ tasks.extrct.output }}"}]},
            'env[FOO]: tasks.extrct is undefined: "extrct" is not a task of this DAG '
            '(did you mean "extract"?)',
        ),
        (
            {"args": ["{{ tasks.load.output }}"]},
            'args[0]: tasks.load.output: task "load" has no output: it is None, not Succeeded',
        ),
        (
            {"args": ["{% if %}"]},
            "args[0]: template syntax error on line 1: Expected an expression, got 'end of "
            "statement block'",
        ),
        ({"args": ["{{ 1 / 0 }}"]}, "args[0]: ZeroDivisionError: division by zero"),
        ({"args": ["{{ ds.nope }}"]}, "args[0]: 'str object' has no attribute 'nope'"),
    ],
)
def test_an_error_names_the_field_and_the_variable(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(RenderError) as caught:
        render(task(**fields))
    assert str(caught.value) == message


def test_a_task_that_succeeded_without_output() -> None:
    states = {"extract": TaskStatus(state=TaskState.SUCCEEDED, try_number=1)}
    with pytest.raises(RenderError, match="it succeeded without writing to /dev/termination-log"):
        render(task(args=["{{ tasks.extract.output }}"]), tasks=states)


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ().__class__.__base__.__subclasses__() }}",
        "{{ params.__init__.__globals__ }}",
        "{{ logical_date.__class__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{% set l = [] %}{{ l.append(1) }}",
        "{{ 'a' * 100000000 }}",
        "{{ [1] * 100000000 }}",
        "{{ 'a'.ljust(1000000000) }}",
        "{{ 'a' | center(1000000000) }}",
        "{{ '%999999999d' % 1 }}",
        "{{ '{:99999999}'.format(1) }}",
        "{{ 2 ** 99999999 }}",
        "{{ range(100000000) | list }}",
    ],
)
def test_the_sandbox_refuses_internals_mutation_and_memory_bombs(template: str) -> None:
    with pytest.raises(RenderError, match=r"^args\[0\]: "):
        one(template)


def test_lipsum_is_not_available() -> None:
    with pytest.raises(RenderError, match='"lipsum" is undefined'):
        one("{{ lipsum(1000000) }}")


def test_a_rendered_value_has_a_size_limit() -> None:
    with pytest.raises(RenderError, match=f"longer than the limit of {MAX_RENDERED_LENGTH}"):
        one("{% for i in range(20000) %}0123456789{% endfor %}")


@pytest.mark.parametrize(
    "template",
    [
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% set s = 'x' * 100000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
        "{% macro f() %}{% for i in range(100000) %}{% endfor %}{% endmacro %}"
        "{% for i in range(100000) %}{{ f() }}{% endfor %}",
    ],
)
def test_loops_have_a_budget(template: str) -> None:
    with pytest.raises(RenderError, match=f"templates may loop at most {MAX_LOOP_ITERATIONS}"):
        one(template)


def test_loops_within_the_budget_work_as_usual() -> None:
    template = (
        "{% for c in params.cols if c != 'b' %}{{ loop.index }}{{ c }}"
        "{% if not loop.last %},{% endif %}{% else %}none{% endfor %}"
        "{% for k, v in {'x': 1}.items() %} {{ k }}={{ v }}{% endfor %}"
    )
    assert one(template, params={"cols": ["a", "b", "c"]}) == "1a,2c x=1"
    assert one("{% for c in [] %}x{% else %}none{% endfor %}") == "none"


# -- in the planner: a broken template fails its task, and only it ------------------------


def test_the_planner_renders_with_upstream_outputs() -> None:
    spec = dag(
        {"name": "extract"},
        {"name": "load", "dependsOn": ["extract"], "args": ["{{ tasks.extract.output }} {{ ds }}"]},
    )
    run_spec = DAGRunSpec.model_validate(
        {"dagRef": {"name": "etl"}, "runType": "scheduled", "logicalDate": "2026-11-24T00:00:00Z"}
    )
    the_run = Run(namespace="ns", name="etl-scheduled-20261124t000000", uid="u", spec=run_spec)
    renderer = run_renderer(spec, the_run, created=LOGICAL)
    w = World(spec, the_run)
    w.step(renderer=renderer)
    w.set_pod("extract", PodPhase.SUCCEEDED, termination_message="rows=42")
    p = w.step(renderer=renderer)
    [create] = p.creates
    assert create.manifest["spec"]["containers"][0]["args"] == ["rows=42 2026-11-24"]


def test_a_template_error_fails_its_task_without_a_pod_and_spares_the_others() -> None:
    spec = dag(
        {"name": "bad", "args": ["{{ nope }}"]},
        {"name": "good", "args": ["{{ ds }}"]},
        {"name": "after-bad", "dependsOn": ["bad"]},
    )
    renderer = make_renderer(
        dag="etl", run_id="r", logical_date=LOGICAL, data_interval=None, params={}
    )
    w = World(spec)
    p = w.step(renderer=renderer)
    assert [c.task for c in p.creates] == ["good"]
    assert p.creates[0].manifest["spec"]["containers"][0]["args"] == ["2026-11-24"]
    assert w.states() == {"bad": "Failed", "good": "Queued", "after-bad": "UpstreamFailed"}
    assert w.tasks["bad"].reason == Reason.TEMPLATE_ERROR
    assert w.tasks["bad"].message == 'args[0]: "nope" is undefined'


# -- a run's renderer -----------------------------------------------------------------------


def run_of(**spec: Any) -> Run:
    run_spec = DAGRunSpec.model_validate({"dagRef": {"name": "etl"}, **spec})
    return Run(namespace="ns", name="etl-manual-20261124t063000", uid="u", spec=run_spec)


def test_a_runs_renderer_uses_its_params_and_infers_a_manual_interval() -> None:
    spec = dag(
        {"name": "a", "args": ["{{ params.limit + 1 }} {{ data_interval_start }} {{ ds }}"]},
        schedule="@daily",
        params={"limit": {"default": 1, "type": "integer"}},
    )
    the_run = run_of(logicalDate="2026-11-24T06:30:00Z", params={"limit": "41"})
    rendered = run_renderer(spec, the_run, created=LOGICAL)(
        resolve_task(spec, spec.tasks[0]), 1, {}
    )
    # A manual run at 06:30 covers the last complete interval: the 23rd.
    assert rendered.args == ("42 2026-11-23 00:00:00+00:00 2026-11-24",)


def test_a_run_without_logical_date_uses_its_creation() -> None:
    spec = dag({"name": "a", "args": ["{{ ts }}"]})
    rendered = run_renderer(spec, run_of(), created=LOGICAL)(
        resolve_task(spec, spec.tasks[0]), 1, {}
    )
    assert rendered.args == ("2026-11-24T00:00:00+00:00",)


def test_a_run_with_invalid_params_gets_no_renderer() -> None:
    spec = dag({"name": "a"}, params={"limit": {"default": 1, "type": "integer"}})
    with pytest.raises(ParamsError, match="param limit must be an integer, got 'ten'"):
        run_renderer(spec, run_of(params={"limit": "ten"}), created=LOGICAL)


# -- airkube render-task ---------------------------------------------------------------------


PREVIEW_DAG = dag(
    {"name": "extract"},
    {
        "name": "load",
        "dependsOn": ["extract"],
        "command": ["load", "{{ tasks.extract.output }}"],
        "args": ["{{ ds }}", "{{ data_interval_end }}", "{{ run_id }}", "{{ params.limit }}"],
        "env": [{"name": "TRY", "value": "{{ try_number }}"}],
    },
    schedule="@daily",
    params={"limit": {"default": 10, "type": "integer"}},
)


def test_preview_of_a_scheduled_logical_date() -> None:
    preview = render_task_preview("etl", PREVIEW_DAG, "load", logical_date=LOGICAL)
    assert preview.command == ("load", "<output of extract>")
    assert preview.args == (
        "2026-11-24",
        "2026-11-25 00:00:00+00:00",
        "etl-scheduled-20261124t000000",
        "10",
    )
    assert preview.env == (EnvVar(name="TRY", value="1"),)
    assert preview.data_interval == INTERVAL


def test_preview_of_another_time_is_a_manual_run_and_takes_params() -> None:
    when = LOGICAL + timedelta(hours=6)
    preview = render_task_preview(
        "etl", PREVIEW_DAG, "load", logical_date=when, params={"limit": "5"}
    )
    assert preview.run_id == "etl-manual-20261124t060000"
    assert preview.data_interval == DataInterval(LOGICAL - timedelta(days=1), LOGICAL)
    assert preview.args is not None
    assert preview.args[3] == "5"


def test_preview_errors() -> None:
    with pytest.raises(ValueError, match='DAG etl has no task "laod" \\(did you mean "load"\\?\\)'):
        render_task_preview("etl", PREVIEW_DAG, "laod", logical_date=LOGICAL)
    with pytest.raises(ParamsError):
        render_task_preview("etl", PREVIEW_DAG, "load", logical_date=LOGICAL, params={"limit": "x"})
    broken = dag({"name": "a", "args": ["{{ nope }}"]})
    with pytest.raises(RenderError, match='args\\[0\\]: "nope" is undefined'):
        render_task_preview("etl", broken, "a", logical_date=LOGICAL)


# -- DAG validation ----------------------------------------------------------------------------


def test_templates_that_can_never_render_are_dag_problems() -> None:
    spec = dag(
        {"name": "extract"},
        {
            "name": "load",
            "command": ["echo", "{% if %}"],
            "args": ["{{ ds_nodas }}", "{{ tasks.extrat.output }}", "{{ tasks['x'].output }}"],
            "env": [{"name": "A", "value": "${#ARR[@]}"}],
        },
        defaults={"image": "busybox", "env": [{"name": "D", "value": "{{ bad }"}]},
    )
    problems = validate_dag(spec)
    assert {p.reason for p in problems} == {ProblemReason.BAD_TEMPLATE}
    assert [p.message for p in problems] == [
        "defaults: env[D]: template syntax error on line 1: unexpected '}'",
        'task "load": command[1]: template syntax error on line 1: Expected an expression, '
        "got 'end of statement block'",
        'task "load": args[0]: "ds_nodas" is undefined (did you mean "ds_nodash"?)',
        'task "load": args[1]: tasks.extrat is undefined: "extrat" is not a task of this DAG '
        '(did you mean "extract"?)',
        'task "load": args[2]: tasks.x is undefined: "x" is not a task of this DAG',
        'task "load": env[A]: template syntax error on line 1: Missing end of comment tag',
    ]
    assert [p.task for p in problems] == [None, "load", "load", "load", "load", "load"]


def test_valid_templates_are_no_dag_problems() -> None:
    spec = dag(
        {"name": "extract"},
        {
            "name": "load",
            "args": [
                "{% set day = ds %}{{ day }}",
                "{% for c in params.cols %}{{ c }}{% endfor %}",
                "{{ range(3) | list }} {{ dict(a=1) }} {{ tasks.extract.output }}",
                "{% raw %}{{ not a template }}{% endraw %}",
            ],
        },
    )
    assert template_problems(spec) == []
    assert validate_dag(spec) == []
