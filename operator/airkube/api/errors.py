"""Pydantic validation errors as messages people can act on: one per problem, naming the
task ("task "load": retries: Input should be greater than or equal to 0")."""

import json
import types
import typing
from collections.abc import Mapping, Sequence
from difflib import get_close_matches
from typing import Any

from pydantic import BaseModel, ValidationError


def _task_name(data: Any, index: int) -> str | None:
    if isinstance(data, Mapping):
        tasks = data.get("tasks")
        if isinstance(tasks, Sequence) and not isinstance(tasks, str) and index < len(tasks):
            task = tasks[index]
            if isinstance(task, Mapping) and isinstance(task.get("name"), str):
                return str(task["name"])
    return None


def _path(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _message(error: Mapping[str, Any]) -> str:
    message = str(error["msg"])
    # A ValueError raised by our own validators is already a full sentence.
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


# What a field of a type accepts, for the errors of a value of another type: the models
# are strict, as the CRD's schema is ("3" is not an integer, 1 is not a boolean).
_TYPES = {
    "bool_type": "a boolean: true or false, without quotes",
    "int_type": "an integer: a whole number, without quotes",
    "int_from_float": "an integer: a whole number",
    "float_type": "a number, without quotes",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping of fields",
    "model_type": "a mapping of fields",
    "model_attributes_type": "a mapping of fields",
}
_SHOWN_MAX = 60


def _shown(value: Any) -> str:
    """``value`` as written in YAML/JSON, cut short when long."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except ValueError:  # a circular structure
        text = repr(value)
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 1] + "…"


def _model_at(model: type[BaseModel] | None, loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model that ``loc`` leads to from ``model`` (through fields by name or alias,
    list items and dict values), or None."""
    current: Any = model
    for part in loc:
        current = _unwrap(current, isinstance(part, int))
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            if isinstance(part, int):
                continue
            return None
        if isinstance(part, int):
            continue
        field = next(
            (f for n, f in current.model_fields.items() if part in (n, f.alias)),
            None,
        )
        if field is None:
            return None
        current = field.annotation
    found = _unwrap(current, False)
    return found if isinstance(found, type) and issubclass(found, BaseModel) else None


def _unwrap(annotation: Any, item: bool) -> Any:
    """``X`` from ``X | None``, ``Annotated[X, ...]``, and (for an index) ``list[X]``."""
    for _ in range(5):
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin is typing.Annotated:
            annotation = args[0]
        elif origin in (typing.Union, types.UnionType):
            rest = [a for a in args if a is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        elif item and origin in (list, tuple, Sequence) and args:
            annotation = args[0]
            item = False
        elif item and origin in (dict, Mapping) and len(args) == 2:
            annotation = args[1]
            item = False
        else:
            return annotation
    return annotation


MAX_HINTS = 10
"""The most distinct unknown fields one error gets a "did you mean" for: bounded work
whatever a hostile spec holds (each lookup compares with one model's few fields)."""


class _Hints:
    """ " (did you mean X?)" for unknown fields, each distinct one looked up once."""

    def __init__(self, model: type[BaseModel] | None) -> None:
        self.model = model
        self.found: dict[tuple[type[BaseModel], str], str] = {}
        self.parents: dict[tuple[int | str, ...], type[BaseModel] | None] = {}

    def __call__(self, loc: Sequence[int | str]) -> str:
        if self.model is None or not loc or not isinstance(loc[-1], str):
            return ""
        at = tuple(0 if isinstance(p, int) else p for p in loc[:-1])
        if at not in self.parents:
            self.parents[at] = _model_at(self.model, at)
        parent = self.parents[at]
        if parent is None:
            return ""
        key = (parent, loc[-1])
        if key not in self.found:
            if len(self.found) >= MAX_HINTS:
                return ""
            known = [f.alias or n for n, f in parent.model_fields.items()]
            close = get_close_matches(loc[-1], known, n=1)
            self.found[key] = f" (did you mean {close[0]}?)" if close else ""
        return self.found[key]


def describe_validation_error(
    error: ValidationError, data: Any = None, model: type[BaseModel] | None = None
) -> list[str]:
    """One message per problem in ``error``, raised validating ``data`` (a DAG spec or a
    fragment of one) as ``model`` (which names the fields an unknown one may be a typo of).

    Problems within a task are prefixed with the task's name when ``data`` shows it,
    else with the task's position.
    """
    messages: list[str] = []
    hints = _Hints(model)
    for item in error.errors():
        # Function validators add their name to loc (as in "function-after[...]"): not a field.
        loc = [p for p in item["loc"] if not (isinstance(p, str) and "[" in p)]
        text = _message(item)
        if text.startswith(_SELF_DESCRIBING):
            messages.append(text)
            continue
        prefix = ""
        hint = hints(loc) if item["type"] == "extra_forbidden" else ""
        if len(loc) >= 2 and loc[0] == "tasks" and isinstance(loc[1], int):
            name = _task_name(data, loc[1])
            prefix = f'task "{name}": ' if name else f"tasks[{loc[1]}]: "
            loc = loc[2:]
        where = _path(loc)
        if item["type"] == "missing":
            text = f"{where} is required"
        elif item["type"] == "extra_forbidden":
            text = f"{where} is not a known field{hint}"
        elif item["type"] in _TYPES:
            text = f"{where}: {_shown(item.get('input'))} is not {_TYPES[item['type']]}"
        elif where:
            text = f"{where}: {text}"
        messages.append(prefix + text)
    return messages


# Messages of our own validators that already name what they are about.
_SELF_DESCRIBING = ("task name ", "schedule ", "timezone ", "param name ")
