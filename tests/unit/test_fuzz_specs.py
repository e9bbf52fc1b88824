"""Fuzzing the specs a user writes: malformed and hostile DAG and DAGRun specs (the
strategies of tests/spec_fuzz.py: good specs mutated — wrong types, unknown fields, huge
and unicode strings, extreme numbers and dates, missing fields — and hostile values
planted where they hurt: cycles, thousands of tasks, bad crons and zones, template
tricks, pod template mistakes; plus issue 15's exact examples). Checking one never
raises: it gives a verdict, one message per problem, and ``airkube validate`` prints no
traceback for any file. tests/e2e/fuzz.py applies the same specs to a running operator."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from pydantic import ValidationError

from airkube.api import DAGRun
from airkube.api.errors import describe_validation_error
from airkube.cli.main import main as cli
from airkube.core.validation import check_dag
from spec_fuzz import CATALOGUE, GOOD_RUN, Example, hostile_dags, hostile_runs

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def assert_messages(messages: list[str]) -> None:
    assert messages
    for message in messages:
        assert isinstance(message, str)
        assert message.strip()
        assert "Traceback" not in message


@SETTINGS
@given(hostile_dags)
def test_a_malformed_dag_spec_gets_a_verdict_never_an_exception(spec: Any) -> None:
    parsed, problems = check_dag(spec) if isinstance(spec, dict) else (None, None)
    if problems is None:
        return  # not a mapping: the CRD's schema refuses it before anyone reads it
    if parsed is None:
        assert_messages([p.message for p in problems])
    for problem in problems:
        assert problem.message.strip()


@SETTINGS
@given(hostile_runs)
def test_a_malformed_dagrun_spec_is_refused_with_messages_never_an_exception(spec: Any) -> None:
    body = {**GOOD_RUN, "spec": spec}
    try:
        DAGRun.from_dict(body)
    except ValidationError as e:
        assert_messages(describe_validation_error(e, spec))


@settings(max_examples=40, deadline=None)
@given(hostile_dags)
def test_airkube_validate_prints_no_traceback_for_any_file(spec: Any) -> None:
    validate_prints_no_traceback(spec)


@pytest.mark.parametrize("example", CATALOGUE, ids=[e.label for e in CATALOGUE])
def test_each_example_of_the_issue_gets_a_verdict_offline(example: Example) -> None:
    if example.kind == "DAG":
        parsed, problems = check_dag(example.spec)
        if parsed is None:
            assert_messages([p.message for p in problems])
        validate_prints_no_traceback(example.spec)
    else:
        body = {**GOOD_RUN, "spec": example.spec}
        try:
            DAGRun.from_dict(body)
        except ValidationError as e:
            assert_messages(describe_validation_error(e, example.spec))


def validate_prints_no_traceback(spec: Any) -> None:
    document = {
        "apiVersion": "airkube.io/v1alpha1",
        "kind": "DAG",
        "metadata": {"name": "fuzzed"},
        "spec": spec,
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dag.yaml"
        path.write_text(yaml.safe_dump(document, allow_unicode=True))
        result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
