"""Pydantic validation errors as messages people can act on: one per problem, naming the
task ("task "load": retries: Input should be greater than or equal to 0")."""

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError


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


def describe_validation_error(error: ValidationError, data: Any = None) -> list[str]:
    """One message per problem in ``error``, raised validating ``data`` (a DAG spec or a
    fragment of one).

    Problems within a task are prefixed with the task's name when ``data`` shows it,
    else with the task's position.
    """
    messages: list[str] = []
    for item in error.errors():
        # Function validators add their name to loc (as in "function-after[...]"): not a field.
        loc = [p for p in item["loc"] if not (isinstance(p, str) and "[" in p)]
        text = _message(item)
        if text.startswith(_SELF_DESCRIBING):
            messages.append(text)
            continue
        prefix = ""
        if len(loc) >= 2 and loc[0] == "tasks" and isinstance(loc[1], int):
            name = _task_name(data, loc[1])
            prefix = f'task "{name}": ' if name else f"tasks[{loc[1]}]: "
            loc = loc[2:]
        where = _path(loc)
        if item["type"] == "missing":
            text = f"{where} is required"
        elif item["type"] == "extra_forbidden":
            text = f"{where} is not a known field"
        elif item["type"] in _TYPES:
            text = f"{where}: {_shown(item.get('input'))} is not {_TYPES[item['type']]}"
        elif where:
            text = f"{where}: {text}"
        messages.append(prefix + text)
    return messages


# Messages of our own validators that already name what they are about.
_SELF_DESCRIBING = ("task name ", "schedule ", "timezone ", "param name ")
