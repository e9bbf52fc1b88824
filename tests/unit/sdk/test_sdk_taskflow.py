"""@task: a Python function shipped as a task's command, its arguments (literals, templates,
outputs, the run's context), and the script it makes run for real."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from airkube.core.templates import render_task_preview
from airkube.core.validation import check_dag
from airkube.sdk import DAG, DAGDefinitionError, Task, TaskGroup, task


@task(image="python:3.12-slim", retries=2)
def extract(table: str, limit: int = 10) -> dict[str, Any]:
    """Rows of a table."""
    return {"table": table, "rows": list(range(limit))}


@task(image="python:3.12-slim")
def count(data: dict[str, Any], label: str, ds: str, try_number: int) -> str:
    return f"{label} {data['table']}: {len(data['rows'])} rows on {ds} (try {try_number})"


@task(
    image="python:3.12-slim",
    retries=1,
)
@functools.lru_cache  # stripped too: only the function's own source is shipped
def stacked() -> None:
    print("decorators stripped")


@task(image="python:3.12-slim")
def braces() -> str:
    return f"{{literal braces}} {'{%'} and {{{1 + 1}}}"


@task(image="python:3.12-slim")
async def waits(seconds: float) -> float:
    import asyncio

    await asyncio.sleep(seconds)
    return seconds


@task(image="python:3.12-slim")
def dates(logical_date: datetime, data_interval_end: datetime, run_id: str) -> list[str]:
    return [logical_date.isoformat(), data_interval_end.isoformat(), run_id]


def script_of(made: Task) -> str:
    command = made.spec_fields()["command"]
    assert command[:2] == ["python", "-c"]
    text: str = command[2]
    return text


def run_script(made: Task, tmp_path: Path, args: list[str]) -> Any:
    """Run the task's command here, as its pod would, and read the output it writes."""
    output = tmp_path / "termination-log"
    command = made.spec_fields()["command"]
    script = command[2].removeprefix("{% raw %}").removesuffix("{% endraw %}")
    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        env={"AIRKUBE_OUTPUT": str(output), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(output.read_text()) if output.exists() else None


def test_the_function_source_and_a_call_to_it_are_the_tasks_command(tmp_path: Path) -> None:
    with DAG("flow") as made:
        rows = extract("events", limit=3)
    assert rows.task_id == "extract"
    (spec_task,) = made.to_resource()["spec"]["tasks"]
    assert spec_task["image"] == "python:3.12-slim"
    assert spec_task["retries"] == 2
    assert "args" not in spec_task  # literals are written in the call
    script = script_of(rows)
    assert script.startswith(
        "from __future__ import annotations\n\n"
        "def extract(table: str, limit: int = 10) -> dict[str, Any]:\n"
        '    """Rows of a table."""\n'
    )
    assert "@task" not in script
    assert "_airkube_result = extract('events', limit=3)\n" in script
    assert run_script(rows, tmp_path, []) == {"table": "events", "rows": [0, 1, 2]}


def test_outputs_templates_and_the_runs_context_are_passed_as_args(tmp_path: Path) -> None:
    with DAG("flow") as made:
        rows = extract("{{ params.table }}")
        summary = count(rows, label="count of")
    assert summary.task_id == "count"
    assert summary.upstream_task_ids == {"extract"}
    spec_tasks = made.to_resource()["spec"]["tasks"]
    assert spec_tasks[0]["args"] == ["{{ params.table }}"]
    assert spec_tasks[1]["args"] == ["{{ tasks.extract.output }}", "{{ ds }}", "{{ try_number }}"]
    assert spec_tasks[1]["dependsOn"] == ["extract"]
    script = script_of(summary)
    assert (
        "_airkube_result = count(_airkube_json.loads(_airkube_argv[0]), label='count of', "
        "ds=_airkube_argv[1], try_number=int(_airkube_argv[2]))\n"
    ) in script
    # What the pod would get once airkube has rendered the args.
    upstream = json.dumps({"table": "events", "rows": [1, 2]})
    assert run_script(summary, tmp_path, [upstream, "2024-06-01", "2"]) == (
        "count of events: 2 rows on 2024-06-01 (try 2)"
    )


def test_the_runs_datetimes_arrive_as_datetimes(tmp_path: Path) -> None:
    with DAG("flow", default_args={"image": "python:3.12-slim"}) as made:
        made_task = dates()
    spec, problems = check_dag(made.to_resource()["spec"])
    assert problems == []
    assert spec is not None
    rendered = render_task_preview(
        "flow", spec, "dates", logical_date=datetime(2024, 6, 1, tzinfo=UTC), params={}
    )
    assert list(rendered.args or ()) == [
        "2024-06-01T00:00:00+00:00",
        "2024-06-01T00:00:00+00:00",
        "flow-manual-20240601t000000",
    ]
    assert run_script(made_task, tmp_path, list(rendered.args or ())) == [
        "2024-06-01T00:00:00+00:00",
        "2024-06-01T00:00:00+00:00",
        "flow-manual-20240601t000000",
    ]


def test_a_container_tasks_output_arrives_as_text(tmp_path: Path) -> None:
    with DAG("flow", default_args={"image": "busybox"}):
        listing = Task("list", command=["sh", "-c", "echo -n a,b > /dev/termination-log"])
        summary = count({"table": "t", "rows": [1]}, listing.output)
    assert "label=" not in script_of(summary)
    assert "_airkube_json.loads" not in script_of(summary).split("_airkube_result =")[1]
    assert run_script(summary, tmp_path, ["a,b", "2024-06-01", "1"]) == (
        "a,b t: 1 rows on 2024-06-01 (try 1)"
    )


def test_decorators_are_stripped_and_async_functions_are_awaited(tmp_path: Path) -> None:
    with DAG("flow"):
        plain = stacked()
        slow = waits(0.01)
    assert script_of(plain).count("def stacked") == 1
    assert "@" not in script_of(plain)
    assert run_script(plain, tmp_path, []) is None
    assert "_airkube_asyncio.run(waits(0.01))" in script_of(slow)
    assert run_script(slow, tmp_path, []) == 0.01


def test_a_source_with_template_markers_is_kept_as_it_is(tmp_path: Path) -> None:
    with DAG("flow", default_args={"image": "python:3.12-slim"}) as made:
        made_task = braces()
    command = made_task.spec_fields()["command"][2]
    assert command.startswith("{% raw %}from __future__")
    spec, problems = check_dag(made.to_resource()["spec"])
    assert problems == []
    assert spec is not None
    rendered = render_task_preview(
        "flow", spec, "braces", logical_date=datetime(2024, 6, 1, tzinfo=UTC), params={}
    )
    assert rendered.command is not None
    assert rendered.command[2] == command.removeprefix("{% raw %}").removesuffix("{% endraw %}")
    assert run_script(made_task, tmp_path, []) == "{literal braces} {% and {2}"


def test_task_names_come_from_the_function_and_repeat_calls_are_numbered() -> None:
    with DAG("flow") as made:
        first = extract("a")
        second = extract("b")
        renamed = extract.override(task_id="extract-eu", retries=0)("eu")
        with TaskGroup("group"):
            grouped = extract("c")
    assert [t.task_id for t in (first, second, renamed, grouped)] == [
        "extract",
        "extract-1",
        "extract-eu",
        "group-extract",
    ]
    assert made.to_resource()["spec"]["tasks"][2]["retries"] == 0
    assert extract.function("direct", limit=1) == {"table": "direct", "rows": [0]}


def test_tasks_from_functions_take_part_in_dependencies() -> None:
    with DAG("flow", default_args={"image": "busybox"}) as made:
        start = Task("start")
        rows = extract("t")
        start >> rows >> Task("end")
    assert {t["name"]: t.get("dependsOn") for t in made.to_resource()["spec"]["tasks"]} == {
        "start": None,
        "extract": ["start"],
        "end": ["extract"],
    }


MODULE_CONSTANT = 3


def test_a_function_using_its_module_is_refused_when_decorated() -> None:
    with pytest.raises(DAGDefinitionError) as caught:

        @task
        def uses_module() -> str:
            return json.dumps(MODULE_CONSTANT)

    assert str(caught.value) == (
        "@task: uses_module uses json, MODULE_CONSTANT from its module, which is not shipped "
        "to the pod (only the function's own source is): import or define them inside the "
        "function"
    )


def test_closures_lambdas_and_non_functions_are_refused() -> None:
    limit = 3

    def closure() -> int:
        return limit

    with pytest.raises(
        DAGDefinitionError, match=r"uses variables of an enclosing function \(limit\)"
    ):
        task(closure)
    with pytest.raises(DAGDefinitionError, match="a lambda cannot be a task"):
        task(lambda: 1)
    with pytest.raises(DAGDefinitionError, match="is not a function"):
        task(print)


def test_arguments_that_cannot_be_shipped_or_do_not_fit_are_errors() -> None:
    with DAG("flow"):
        with pytest.raises(DAGDefinitionError, match=r"argument .*object.* cannot be shipped"):
            extract(object())
        with pytest.raises(DAGDefinitionError, match=r"extract\(\): missing a required argument"):
            extract()
        with pytest.raises(DAGDefinitionError, match=r"unexpected keyword argument 'tabel'"):
            extract(tabel="x")
        with pytest.raises(DAGDefinitionError, match="makes a task when it is called"):
            Task("t", image="x") >> extract  # type: ignore[type-var]


def test_calling_a_task_function_outside_a_dag_and_unknown_settings_are_errors() -> None:
    with pytest.raises(DAGDefinitionError, match=r"extract\(\) makes a task"):
        extract("x")
    with pytest.raises(DAGDefinitionError, match="'cmds' is not supported"):
        task(cmds=["x"])(stacked.function)
