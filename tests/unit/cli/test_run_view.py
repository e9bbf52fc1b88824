"""The CLI's view of a run: the task tree, the data `get -o` prints, and plain tables."""

import json

import yaml
from click.testing import CliRunner

from airkube.cli.output import emit, print_table
from airkube.cli.runs import run_view, task_detail, tree_lines

ORDER = ["extract", "a", "b", "load", "report"]
UPSTREAM = {
    "extract": (),
    "a": ("extract",),
    "b": ("extract",),
    "load": ("a", "b"),
    "report": (),
}


def test_the_tree_puts_each_task_under_its_last_upstream() -> None:
    assert tree_lines(ORDER, UPSTREAM) == [
        ("", "extract"),
        ("├─ ", "a"),
        ("└─ ", "b"),
        ("   └─ ", "load"),
        ("", "report"),
    ]


def test_the_tree_draws_continuing_branches() -> None:
    order = ["r", "x", "x1", "y"]
    upstream = {"r": (), "x": ("r",), "x1": ("x",), "y": ("r",)}
    assert [p + n for p, n in tree_lines(order, upstream)] == ["r", "├─ x", "│  └─ x1", "└─ y"]


def run_body() -> dict[str, object]:
    return {
        "metadata": {"name": "etl-1", "namespace": "ns"},
        "spec": {"dagRef": {"name": "etl"}, "runType": "manual"},
        "status": {
            "state": "Failed",
            "reason": "TaskFailed",
            "startTime": "2026-11-24T10:00:00Z",
            "endTime": "2026-11-24T10:01:30Z",
            "tasks": {
                "extract": {
                    "state": "Succeeded",
                    "tryNumber": 1,
                    "startTime": "2026-11-24T10:00:00Z",
                    "endTime": "2026-11-24T10:00:05Z",
                    "output": "42",
                },
                "a": {"state": "Failed", "tryNumber": 2, "message": "boom"},
            },
        },
    }


def test_the_view_lists_every_task_in_order_with_its_state_try_and_duration() -> None:
    view = run_view(run_body(), ORDER, UPSTREAM)
    assert view["state"] == "Failed"
    assert view["duration"] == "1m30s"
    rows = {row["name"]: row for row in view["tasks"]}
    assert [row["name"] for row in view["tasks"]] == ORDER
    assert (rows["extract"]["state"], rows["extract"]["try"], rows["extract"]["duration"]) == (
        "Succeeded",
        1,
        "5s",
    )
    assert rows["extract"]["output"] == "42"
    assert (rows["a"]["state"], rows["a"]["try"], rows["a"]["message"]) == ("Failed", 2, "boom")
    assert (rows["load"]["state"], rows["load"]["try"]) == ("None", 0)
    assert rows["load"]["upstream"] == ["a", "b"]


def test_emit_prints_json_and_yaml_that_parse_back() -> None:
    data = {"name": "x", "tasks": [{"state": "Succeeded", "try": 1}]}
    runner = CliRunner()
    for fmt, load in (("json", json.loads), ("yaml", yaml.safe_load)):
        result = runner.invoke(_command(lambda fmt=fmt: emit(data, fmt)))
        assert load(result.output) == data


def test_tables_are_plain_aligned_text_off_a_terminal() -> None:
    result = CliRunner().invoke(
        _command(lambda: print_table(("TASK", "STATE"), [("a", "Succeeded"), ("long-name", "")]))
    )
    assert result.output.splitlines() == ["TASK       STATE", "a          Succeeded", "long-name"]
    assert "\x1b[" not in result.output


def _command(body):  # type: ignore[no-untyped-def]
    import click

    @click.command()
    def command() -> None:
        body()

    return command


def test_a_queued_task_shows_why_its_pod_waits_else_its_pod() -> None:
    waiting = "waiting for its pod: Unschedulable: 0/2 nodes are available"
    body = run_body()
    body["status"]["tasks"]["b"] = {  # type: ignore[index]
        "state": "Queued",
        "tryNumber": 1,
        "podName": "etl-1-b-1-x",
        "reason": "Unschedulable",
        "message": waiting,
    }
    body["status"]["tasks"]["load"] = {  # type: ignore[index]
        "state": "Queued",
        "tryNumber": 1,
        "podName": "etl-1-load-1-y",
    }
    rows = {row["name"]: row for row in run_view(body, ORDER, UPSTREAM)["tasks"]}
    assert task_detail(rows["b"]) == waiting
    assert rows["b"]["reason"] == "Unschedulable"
    assert task_detail(rows["load"]) == "etl-1-load-1-y"
    assert task_detail(rows["extract"]) == ""
