"""Which names are valid: task names (they become part of pod names and label values),
param names (they are read in templates as ``params.<name>``) and label values."""

import re

DNS1123_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
TASK_NAME_MAX_LENGTH = 63
"""A task name is a label value (``airkube.io/task``), so it fits in 63 characters."""

PARAM_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
LABEL_VALUE_MAX_LENGTH = 63

_DNS1123_LABEL = re.compile(DNS1123_LABEL_PATTERN)
_PARAM_NAME = re.compile(PARAM_NAME_PATTERN)
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def suggest_task_name(name: str) -> str:
    """The closest valid task name: lowercase, other characters replaced by '-'."""
    suggestion = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return suggestion[:TASK_NAME_MAX_LENGTH].rstrip("-") or "task"


def task_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a task name, or None when it can."""
    if not name:
        return "a task name must not be empty"
    if len(name) <= TASK_NAME_MAX_LENGTH and _DNS1123_LABEL.fullmatch(name):
        return None
    return (
        f'task name "{name}" cannot be part of a pod name: use at most '
        f"{TASK_NAME_MAX_LENGTH} lowercase letters, digits and '-', starting and ending "
        f'with a letter or digit (for example "{suggest_task_name(name)}")'
    )


def check_task_name(name: str) -> str:
    """Pydantic validator form of :func:`task_name_problem`."""
    problem = task_name_problem(name)
    if problem:
        raise ValueError(problem)
    return name


def param_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a param name, or None when it can."""
    if _PARAM_NAME.fullmatch(name):
        return None
    return (
        f'param name "{name}" cannot be used in templates as params.{name}: use letters, '
        "digits and '_', not starting with a digit"
    )


def is_label_value(value: str) -> bool:
    """Whether ``value`` is a valid Kubernetes label value."""
    return len(value) <= LABEL_VALUE_MAX_LENGTH and bool(_LABEL_VALUE.fullmatch(value))
