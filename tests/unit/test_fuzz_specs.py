"""Fuzzing the specs a user writes: malformed and hostile DAG and DAGRun specs, made by
mutating good ones (wrong types, unknown fields, huge and unicode strings, extreme numbers
and dates, missing fields). Checking one never raises: it gives a verdict, one message per
problem, and ``airkube validate`` prints no traceback for any file."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from airkube.api import DAGRun
from airkube.api.errors import describe_validation_error
from airkube.cli.main import main as cli
from airkube.core.validation import check_dag

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

GOOD_DAG: dict[str, Any] = {
    "schedule": "@daily",
    "startDate": "2026-01-01T00:00:00Z",
    "catchup": False,
    "maxActiveRuns": 2,
    "params": {"table": {"default": "events", "type": "string"}},
    "defaults": {"image": "busybox:1.36", "retries": 1, "retryDelay": "10s"},
    "tasks": [
        {"name": "extract", "command": ["sh", "-c", "echo {{ params.table }}"]},
        {"name": "load", "dependsOn": ["extract"], "args": ["{{ ds }}"]},
        {"name": "report", "dependsOn": ["load"], "triggerRule": "all_done"},
    ],
}
GOOD_RUN: dict[str, Any] = {
    "apiVersion": "airkube.io/v1alpha1",
    "kind": "DAGRun",
    "metadata": {"name": "etl-manual-1", "namespace": "default", "uid": "u1"},
    "spec": {"dagRef": {"name": "etl"}, "logicalDate": "2026-11-24T00:00:00Z"},
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            " ",
            "@daily ",
            "yes",
            "3",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "0000-01-01",
            "2026-01-01T00:00:00+25:00",
            "{{ (((2**10) ** 10) ** 2) }}",
            "{% for x in range(10) %}{{ x }}{% endfor %}",
            "{{ foo.__class__ }}",
            "Ω" * 300,
            "x" * 5000,
            "* * * * * * *",
            "Mars/Olympus",
            "-1",
            "1e309",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def paths_of(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``node`` (dict keys and list indexes)."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths_of(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += paths_of(value, (*prefix, i))
    return found


@st.composite
def mutated(draw: st.DrawFn, good: dict[str, Any]) -> Any:
    """``good`` with a few of its values replaced, removed, or joined by unknown fields."""
    spec = copy.deepcopy(good)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = paths_of(spec)
        path = draw(st.sampled_from(paths))
        kind = draw(st.sampled_from(["replace", "remove", "add"]))
        if not path:
            if kind == "replace":
                spec = draw(values)
            continue
        *head, last = path
        parent = spec
        for step in head:
            parent = parent[step]
        if kind == "replace":
            parent[last] = draw(values)
        elif kind == "remove":
            del parent[last]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = draw(values)
        else:
            parent.append(draw(values))
    return spec


def assert_messages(messages: list[str]) -> None:
    assert messages
    for message in messages:
        assert isinstance(message, str)
        assert message.strip()
        assert "Traceback" not in message


@SETTINGS
@given(mutated(GOOD_DAG))
def test_a_malformed_dag_spec_gets_a_verdict_never_an_exception(spec: Any) -> None:
    parsed, problems = check_dag(spec) if isinstance(spec, dict) else (None, None)
    if problems is None:
        return  # not a mapping: the CRD's schema refuses it before anyone reads it
    if parsed is None:
        assert_messages([p.message for p in problems])
    for problem in problems:
        assert problem.message.strip()


@SETTINGS
@given(mutated(GOOD_RUN["spec"]))
def test_a_malformed_dagrun_spec_is_refused_with_messages_never_an_exception(spec: Any) -> None:
    body = {**GOOD_RUN, "spec": spec}
    try:
        DAGRun.from_dict(body)
    except ValidationError as e:
        assert_messages(describe_validation_error(e, spec))


@settings(max_examples=40, deadline=None)
@given(mutated(GOOD_DAG))
def test_airkube_validate_prints_no_traceback_for_any_file(spec: Any) -> None:
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
