"""`airkube mark`: what it asks of the operator (spec.mark), its dry run, and its errors,
against a fake API server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from airkube.cli import runs
from airkube.cli.main import main

DAG = {
    "metadata": {"name": "etl", "namespace": "ns"},
    "spec": {
        "defaults": {"image": "busybox"},
        "tasks": [
            {"name": "extract"},
            {"name": "check", "dependsOn": ["extract"]},
            {"name": "load", "dependsOn": ["check"]},
        ],
    },
}


def failed_run(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "etl-1", "namespace": "ns", "uid": "u1"},
        "spec": {"dagRef": {"name": "etl"}, **spec},
        "status": {
            "state": "Failed",
            "tasks": {
                "extract": {"state": "Succeeded", "tryNumber": 1},
                "check": {"state": "Failed", "tryNumber": 2, "reason": "Error"},
                "load": {"state": "UpstreamFailed"},
            },
        },
    }


class FakeCustom:
    def __init__(self, run: dict[str, Any]) -> None:
        self.objects = {"dags": DAG, "dagruns": run}
        self.patches: list[dict[str, Any]] = []

    def get_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, name: str
    ) -> dict[str, Any]:
        return self.objects[plural]

    def patch_namespaced_custom_object(
        self,
        group: str,
        version: str,
        namespace: str,
        plural: str,
        name: str,
        body: dict[str, Any],
        **_: Any,
    ) -> dict[str, Any]:
        self.patches.append(body)
        return self.objects[plural]


@pytest.fixture
def custom(monkeypatch: pytest.MonkeyPatch) -> FakeCustom:
    fake = FakeCustom(failed_run())
    monkeypatch.setattr(runs, "custom_api", lambda *_: fake)
    return fake


def mark(*args: str) -> Any:
    return CliRunner().invoke(main, ["mark", "etl-1", "-n", "ns", *args])


def test_mark_writes_a_mark_request_with_a_new_id(custom: FakeCustom) -> None:
    result = mark("--task", "check", "--state", "success")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        "dagrun.airkube.io/etl-1 mark requested: Succeeded: check; cleared downstream: load"
    )
    (patch,) = custom.patches
    request = dict(patch["spec"]["mark"])
    first_id = request.pop("id")
    assert first_id
    assert request == {
        "state": "Succeeded",
        "tasks": ["check"],
        "upstream": False,
        "downstream": False,
    }
    again = mark("--task", "check", "--state", "success")
    assert again.exit_code == 0
    assert custom.patches[1]["spec"]["mark"]["id"] != first_id


def test_mark_of_the_whole_run_names_no_task(custom: FakeCustom) -> None:
    result = mark("--state", "success")
    assert result.exit_code == 0, result.output
    assert "run marked Succeeded; Succeeded: check, load" in result.output
    assert custom.patches[0]["spec"]["mark"]["tasks"] is None


def test_a_dry_run_changes_nothing(custom: FakeCustom) -> None:
    result = mark("--task", "extract", "--state", "failed", "--downstream", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output == "would mark in etl-1: Failed: extract, load\n"
    as_json = mark("--task", "check", "--state", "success", "--dry-run", "-o", "json")
    assert json.loads(as_json.output) == {
        "run": "etl-1",
        "state": "Succeeded",
        "wouldMark": [{"task": "check", "from": "Failed", "to": "Succeeded"}],
        "wouldClear": ["load"],
        "runState": None,
    }
    assert not custom.patches


def test_a_mark_lifts_a_cancel_as_a_clear_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeCustom(failed_run(cancel=True))
    monkeypatch.setattr(runs, "custom_api", lambda *_: fake)
    assert mark("--task", "check", "--state", "success").exit_code == 0
    assert fake.patches[0]["spec"]["cancel"] is False


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--task", "nope", "--state", "failed"], 'the run has no task "nope" to mark'),
        (["--task", "check", "--state", "failed"], "nothing to mark in run etl-1: already Failed"),
        (["--state", "failed", "--upstream"], "--upstream and --downstream need --task"),
        (["--task", "check", "--state", "maybe"], "'maybe' is not one of 'failed', 'success'"),
        (["--task", "check"], "Missing option '--state'"),
    ],
)
def test_bad_input_gets_one_clear_line(custom: FakeCustom, args: list[str], error: str) -> None:
    result = mark(*args)
    assert result.exit_code != 0
    assert error in result.output
    assert "Traceback" not in result.output
    assert not custom.patches


def test_a_dry_run_of_a_large_run_says_the_operator_decides_for_omitted_tasks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = failed_run()
    body["status"]["tasksOmitted"] = 7
    fake = FakeCustom(body)
    monkeypatch.setattr(runs, "custom_api", lambda *_: fake)
    result = mark("--state", "success", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "note: 7 tasks are left out of this large run's status: the operator decides for them"
    )
