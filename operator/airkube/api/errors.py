"""Pydantic validation errors as messages people can act on: one per problem, naming the
task ("task "load": retries: Input should be greater than or equal to 0")."""

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
        elif where:
            text = f"{where}: {text}"
        messages.append(prefix + text)
    return messages


# Messages of our own validators that already name what they are about.
_SELF_DESCRIBING = ("task name ", "schedule ", "timezone ", "param name ")
