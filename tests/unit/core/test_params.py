"""Params: plain defaults and typed declarations, a run's overrides, conversions from text
and the messages for bad values; DAG validation of the declarations."""

from typing import Any

import pytest

from airkube.api import DAGSpec
from airkube.core.params import (
    ParamsError,
    is_declaration,
    param_from_text,
    param_problems,
    resolve_params,
)
from airkube.core.validation import ProblemReason, validate_dag

PARAMS: dict[str, Any] = {
    "table": "events",
    "limit": {"default": 100, "type": "integer", "minimum": 1, "maximum": 1000},
    "ratio": {"default": 0.5, "type": "number"},
    "full": {"default": False, "type": "boolean"},
    "mode": {"default": "delta", "enum": ["full", "delta"]},
    "code": {"default": "abc", "type": "string", "minLength": 2, "maxLength": 5},
    "cols": {"default": ["a"], "type": "array"},
    "opts": {"default": {}, "type": "object"},
    "day": {"default": None, "type": ["string", "null"]},
}


def test_defaults_when_a_run_overrides_nothing() -> None:
    resolved = resolve_params(PARAMS, None)
    assert resolved.ok
    assert resolved.values == {
        "table": "events",
        "limit": 100,
        "ratio": 0.5,
        "full": False,
        "mode": "delta",
        "code": "abc",
        "cols": ["a"],
        "opts": {},
        "day": None,
    }


def test_plain_params_take_any_value() -> None:
    resolved = resolve_params({"table": "events"}, {"table": 42})
    assert resolved.ok
    assert resolved.values == {"table": 42}


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [
        ("limit", "42", 42),
        ("limit", " 7 ", 7),
        ("limit", 42.0, 42),
        ("ratio", "2.5", 2.5),
        ("ratio", "3", 3),
        ("ratio", 3, 3),
        ("full", "true", True),
        ("full", "False", False),
        ("code", 42, "42"),
        ("code", True, "true"),
        ("cols", '["x", "y"]', ["x", "y"]),
        ("opts", '{"k": 1}', {"k": 1}),
        ("day", "2024-01-01", "2024-01-01"),
        ("day", None, None),
    ],
)
def test_values_are_converted_to_the_declared_type(name: str, given: Any, expected: Any) -> None:
    resolved = resolve_params(PARAMS, {name: given})
    assert resolved.problems == ()
    assert resolved.values[name] == expected
    assert type(resolved.values[name]) is type(expected)


@pytest.mark.parametrize(
    ("name", "given", "message"),
    [
        ("limit", "ten", "param limit must be an integer, got 'ten'"),
        ("limit", 2.5, "param limit must be an integer, got 2.5"),
        ("limit", True, "param limit must be an integer, got True"),
        ("limit", 0, "param limit must be at least 1, got 0"),
        ("limit", "5000", "param limit must be at most 1000, got 5000"),
        ("ratio", "nan", "param ratio must be a number, got 'nan'"),
        ("full", "yes", "param full must be a boolean (true or false), got 'yes'"),
        ("mode", "all", "param mode must be one of 'full', 'delta', got 'all'"),
        ("code", "a", "param code must be at least 2 characters long, got 'a'"),
        ("code", "abcdef", "param code must be at most 5 characters long, got 'abcdef'"),
        ("code", ["x"], "param code must be a string, got ['x']"),
        ("cols", "x,y", "param cols must be an array, got 'x,y'"),
        ("opts", "[1]", "param opts must be an object, got '[1]'"),
        ("day", {"d": 1}, "param day must be a string or null, got {'d': 1}"),
    ],
)
def test_bad_values_are_refused_naming_the_param(name: str, given: Any, message: str) -> None:
    resolved = resolve_params(PARAMS, {name: given})
    assert resolved.problems == (message,)
    assert not resolved.ok


def test_an_enum_of_numbers_does_not_take_a_boolean() -> None:
    resolved = resolve_params({"n": {"default": 1, "enum": [1, 2]}}, {"n": True})
    assert resolved.problems == ("param n must be one of 1, 2, got True",)


def test_every_bad_value_is_reported() -> None:
    resolved = resolve_params(PARAMS, {"limit": "x", "mode": "y"})
    assert len(resolved.problems) == 2
    with pytest.raises(ParamsError, match="param limit must be an integer") as caught:
        raise ParamsError(resolved.problems)
    assert caught.value.problems == resolved.problems


def test_extra_override_names_are_kept_and_listed() -> None:
    resolved = resolve_params(PARAMS, {"limt": 5})
    assert resolved.ok
    assert resolved.values["limt"] == 5
    assert resolved.extra == ("limt",)


def test_a_param_without_default_is_required() -> None:
    params = {"day": {"type": "string"}}
    assert resolve_params(params, None).problems == (
        "param day is required: it has no default; give it in the run's params "
        "(airkube trigger --param day=...)",
    )
    assert resolve_params(params, {"day": "2024-01-01"}).values == {"day": "2024-01-01"}


def test_declarations_and_plain_object_defaults() -> None:
    assert is_declaration({"default": 1, "type": "integer"})
    assert is_declaration({"type": "string"})
    assert not is_declaration({"host": "db", "port": 5432})
    assert not is_declaration({})
    assert not is_declaration("events")
    # An object default that looks like a declaration is written inside one.
    resolved = resolve_params({"fmt": {"default": {"type": "csv"}}}, None)
    assert resolved.values == {"fmt": {"type": "csv"}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("42", 42), ("true", True), ('["a"]', ["a"]), ("hello", "hello"), ("1.10", 1.1)],
)
def test_cli_text_is_read_as_json_when_it_is_json(text: str, expected: Any) -> None:
    assert param_from_text({"x": 1}, "x", text) == expected


def test_cli_text_for_a_string_param_is_kept_as_written() -> None:
    params = {"version": {"default": "1.0", "type": "string"}}
    assert param_from_text(params, "version", "1.10") == "1.10"
    assert param_from_text(params, "version", "007") == "007"


# -- DAG validation ----------------------------------------------------------------------


def spec(params: dict[str, Any], schedule: str | None = None) -> DAGSpec:
    return DAGSpec.model_validate(
        {
            "schedule": schedule,
            "params": params,
            "defaults": {"image": "busybox"},
            "tasks": [{"name": "a"}],
        }
    )


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        (
            {"default": 1, "type": "int"},
            "param p: type 'int' is not one of string, integer, number, boolean, array, "
            "object, null (or a list of them)",
        ),
        ({"default": "ten", "type": "integer"}, "param p: the default is invalid: param p must "),
        ({"default": "x", "enum": []}, "param p: enum must be a non-empty list"),
        (
            {"default": 1, "type": "integer", "enum": [1, "two"]},
            "enum value 'two' is not an integer",
        ),
        ({"default": 5, "minimum": 10, "maximum": 1}, "param p: minimum is greater than maximum"),
        ({"default": 5, "minimum": "1"}, "param p: minimum must be a number, got '1'"),
        ({"default": "x", "minLength": 1.5}, "param p: minLength must be a whole number"),
        ({"default": 0, "type": "integer", "minimum": 1}, "must be at least 1, got 0"),
        ({"default": "x", "description": 3}, "param p: description must be a string"),
    ],
)
def test_bad_declarations_are_dag_problems(declaration: dict[str, Any], message: str) -> None:
    problems = param_problems(spec({"p": declaration}))
    assert len(problems) == 1
    assert problems[0][0] == "p"
    assert message in problems[0][1]


def test_validate_dag_reports_invalid_params() -> None:
    [problem] = validate_dag(spec({"limit": {"default": "ten", "type": "integer"}}))
    assert problem.reason is ProblemReason.INVALID_PARAM
    assert problem.message == (
        "param limit: the default is invalid: param limit must be an integer, got 'ten'"
    )


def test_a_scheduled_dag_cannot_have_required_params() -> None:
    [problem] = validate_dag(spec({"day": {"type": "string"}}, schedule="@daily"))
    assert problem.reason is ProblemReason.INVALID_PARAM
    assert problem.message == (
        "param day has no default, so scheduled runs cannot give it: set a default, or "
        "remove the schedule"
    )
    assert validate_dag(spec({"day": {"type": "string"}})) == []


def test_plain_params_are_never_dag_problems() -> None:
    assert validate_dag(spec({"table": "events", "cfg": {"host": "db"}}, "@daily")) == []
