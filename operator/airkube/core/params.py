"""A DAG's params: declared defaults, a run's overrides, type checks and conversions.

``spec.params`` maps each name to its default, or to a **declaration** (Airflow's
``Param``): an object whose keys are all among ``default``, ``type``, ``enum``,
``description``, ``minimum``, ``maximum``, ``minLength`` and ``maxLength``::

    params:
      table: events                      # a plain default: any value goes
      limit: {default: 100, type: integer, minimum: 1}
      mode: {default: full, enum: [full, delta]}
      day: {type: string}                # no default: every run must give it

``type`` is one of string, integer, number, boolean, array, object, null, or a list of them
(JSON Schema's names; ``[integer, "null"]`` allows null). A plain default that is itself an
object made only of those keys must be wrapped: ``{default: {type: csv}}``.

A run's values (``DAGRun.spec.params``, ``airkube trigger --param``) override the defaults.
For a declared type, text is converted when nothing is lost: "42" becomes 42 for an
integer, "true" becomes true for a boolean, 42 becomes "42" for a string, and a JSON text
becomes an array or object; anything else is refused with a message naming the param
("param limit must be an integer, got 'ten'"). Names the DAG does not declare are kept, as
Airflow keeps extra params, and listed in ``extra`` so the CLI can warn about a typo.
"""

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airkube.api.dag import DAGSpec

DECLARATION_KEYS = frozenset(
    {"default", "type", "enum", "description", "minimum", "maximum", "minLength", "maxLength"}
)
PARAM_TYPES = ("string", "integer", "number", "boolean", "array", "object", "null")

_INTEGER_TEXT = re.compile(r"^[+-]?[0-9]+$")
_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "array": "an array",
    "object": "an object",
    "null": "null",
}


class ParamsError(ValueError):
    """A run's params are invalid; ``problems`` has one message per param."""

    def __init__(self, problems: list[str] | tuple[str, ...]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class ParamDeclaration:
    """One param of a DAG: its default and the checks its values pass."""

    name: str
    has_default: bool = False
    default: Any = None
    types: tuple[str, ...] = ()
    """Allowed JSON types; empty: any value."""
    enum: tuple[Any, ...] | None = None
    description: str | None = None
    minimum: int | float | None = None
    maximum: int | float | None = None
    min_length: int | None = None
    max_length: int | None = None


@dataclass(frozen=True)
class ResolvedParams:
    """A run's params: the values templates read, and what is wrong with them."""

    values: dict[str, Any]
    problems: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    """Override names the DAG does not declare (kept; a typo?)."""

    @property
    def ok(self) -> bool:
        return not self.problems


def is_declaration(value: Any) -> bool:
    """Whether a ``spec.params`` value is a declaration rather than a plain default."""
    return isinstance(value, Mapping) and bool(value) and set(value) <= DECLARATION_KEYS


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _matches(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return _is_number(value) and math.isfinite(value)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    return value is None


_NO = object()


def _convert(value: Any, kind: str) -> Any:
    """``value`` converted to ``kind`` without loss, or ``_NO``."""
    if kind == "integer":
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
            return int(value.strip())
    elif kind == "number" and isinstance(value, str):
        text = value.strip()
        if _INTEGER_TEXT.fullmatch(text):
            return int(text)
        try:
            number = float(text)
        except ValueError:
            return _NO
        return number if math.isfinite(number) else _NO
    elif kind == "boolean" and isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().lower(), _NO)
    elif kind == "string" and (_is_number(value) or isinstance(value, bool)):
        return json.dumps(value)
    elif kind in ("array", "object") and isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return _NO
        return parsed if _matches(parsed, kind) else _NO
    elif kind == "array" and isinstance(value, tuple):
        return list(value)
    elif kind == "null" and isinstance(value, str) and value.strip() == "null":
        return None
    return _NO


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _type_words(types: tuple[str, ...]) -> str:
    words = [_TYPE_WORDS[t] for t in types]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _same(a: Any, b: Any) -> bool:
    # True == 1 in Python; an enum of numbers must not accept a boolean.
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def check_value(declaration: ParamDeclaration, value: Any) -> tuple[Any, str | None]:
    """``value`` for ``declaration``, converted to its type: (value, None), or (value,
    the problem)."""
    name = declaration.name
    if declaration.types and not any(_matches(value, t) for t in declaration.types):
        for kind in declaration.types:
            converted = _convert(value, kind)
            if converted is not _NO:
                value = converted
                break
        else:
            return value, (
                f"param {name} must be {_type_words(declaration.types)}, got {_shown(value)}"
            )
    if declaration.enum is not None and not any(_same(value, e) for e in declaration.enum):
        allowed = ", ".join(_shown(e) for e in declaration.enum)
        return value, f"param {name} must be one of {allowed}, got {_shown(value)}"
    if _is_number(value):
        if declaration.minimum is not None and value < declaration.minimum:
            return value, f"param {name} must be at least {declaration.minimum}, got {value}"
        if declaration.maximum is not None and value > declaration.maximum:
            return value, f"param {name} must be at most {declaration.maximum}, got {value}"
    if isinstance(value, str):
        if declaration.min_length is not None and len(value) < declaration.min_length:
            return value, (
                f"param {name} must be at least {declaration.min_length} characters long, "
                f"got {_shown(value)}"
            )
        if declaration.max_length is not None and len(value) > declaration.max_length:
            return value, (
                f"param {name} must be at most {declaration.max_length} characters long, "
                f"got {_shown(value)}"
            )
    return value, None


def _bound(name: str, decl: Mapping[str, Any], key: str, problems: list[str]) -> Any:
    value = decl.get(key)
    if value is None:
        return None
    integer_only = key in ("minLength", "maxLength")
    if not _is_number(value) or (integer_only and not isinstance(value, int)) or value != value:
        kind = "a whole number" if integer_only else "a number"
        problems.append(f"param {name}: {key} must be {kind}, got {_shown(value)}")
        return None
    if integer_only and value < 0:
        problems.append(f"param {name}: {key} must not be negative, got {value}")
        return None
    return value


def parse_declaration(name: str, value: Any) -> tuple[ParamDeclaration, list[str]]:
    """The declaration of param ``name`` (a plain default is a declaration with a default
    and no checks), and the problems of the declaration itself."""
    if not is_declaration(value):
        return ParamDeclaration(name, has_default=True, default=value), []
    problems: list[str] = []
    raw_type = value.get("type")
    types: tuple[str, ...] = ()
    if raw_type is not None:
        listed = raw_type if isinstance(raw_type, list) else [raw_type]
        bad = [t for t in listed if not isinstance(t, str) or t not in PARAM_TYPES]
        if bad or not listed:
            problems.append(
                f"param {name}: type {_shown(raw_type)} is not one of {', '.join(PARAM_TYPES)} "
                "(or a list of them)"
            )
        else:
            types = tuple(dict.fromkeys(listed))
    enum = value.get("enum")
    if enum is not None and (not isinstance(enum, list) or not enum):
        problems.append(f"param {name}: enum must be a non-empty list of the allowed values")
        enum = None
    description = value.get("description")
    if description is not None and not isinstance(description, str):
        problems.append(f"param {name}: description must be a string")
        description = None
    declaration = ParamDeclaration(
        name,
        has_default="default" in value,
        default=value.get("default"),
        types=types,
        enum=tuple(enum) if enum is not None else None,
        description=description,
        minimum=_bound(name, value, "minimum", problems),
        maximum=_bound(name, value, "maximum", problems),
        min_length=_bound(name, value, "minLength", problems),
        max_length=_bound(name, value, "maxLength", problems),
    )
    if (
        declaration.minimum is not None
        and declaration.maximum is not None
        and declaration.minimum > declaration.maximum
    ):
        problems.append(f"param {name}: minimum is greater than maximum")
    if enum is not None and types:
        for allowed in enum:
            if not any(_matches(allowed, t) for t in types):
                problems.append(
                    f"param {name}: enum value {_shown(allowed)} is not {_type_words(types)}"
                )
    if declaration.has_default and not problems:
        _, problem = check_value(declaration, declaration.default)
        if problem:
            problems.append(f"param {name}: the default is invalid: {problem}")
    return declaration, problems


def declarations(params: Mapping[str, Any] | None) -> dict[str, ParamDeclaration]:
    """Every param of a DAG, declared or plain (declaration problems ignored: see
    :func:`param_problems`)."""
    return {name: parse_declaration(name, value)[0] for name, value in (params or {}).items()}


def param_problems(spec: DAGSpec) -> list[tuple[str, str]]:
    """(param, message) for each problem of the DAG's param declarations: bad types,
    enums or bounds, defaults that fail their own checks, and required params (without
    default) in a DAG with a schedule, whose scheduled runs could not give them (Airflow
    refuses such a DAG too)."""
    problems: list[tuple[str, str]] = []
    for name, value in (spec.params or {}).items():
        declaration, found = parse_declaration(name, value)
        problems.extend((name, message) for message in found)
        if not found and not declaration.has_default and spec.schedule is not None:
            problems.append(
                (
                    name,
                    f"param {name} has no default, so scheduled runs cannot give it: set a "
                    "default, or remove the schedule",
                )
            )
    return problems


def resolve_params(
    dag_params: Mapping[str, Any] | None, overrides: Mapping[str, Any] | None
) -> ResolvedParams:
    """A run's params: the DAG's defaults, overridden by the run's values, each declared
    one converted and checked. Invalid values stay in ``values`` as given; the run must
    not start when ``problems`` is not empty (the operator fails it, reason InvalidParams).
    """
    decls = declarations(dag_params)
    overrides = overrides or {}
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, declaration in decls.items():
        if name in overrides:
            value, problem = check_value(declaration, overrides[name])
        elif declaration.has_default:
            value, problem = check_value(declaration, declaration.default)
        else:
            problems.append(
                f"param {name} is required: it has no default; give it in the run's params "
                f"(airkube trigger --param {name}=...)"
            )
            continue
        values[name] = value
        if problem:
            problems.append(problem)
    extra = tuple(name for name in overrides if name not in decls)
    for name in extra:
        values[name] = overrides[name]
    return ResolvedParams(values, tuple(problems), extra)


def param_from_text(dag_params: Mapping[str, Any] | None, name: str, text: str) -> Any:
    """The value of ``--param name=text``: the text itself for a param declared as a
    string (so "007" and "1.10" stay as written), else the JSON value it spells, else the
    text. :func:`resolve_params` then converts and checks it."""
    declaration = declarations(dag_params).get(name)
    if declaration is not None and declaration.types == ("string",):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text
