"""Every problem of a DAG spec, each one message naming the task: what the DAG's Ready
condition and events report, and what ``airkube render`` prints. Templates that can never
render (syntax errors, unknown variables, filters or tests…), Pod fields Kubernetes does not
know or of the wrong type (in podTemplate and env valueFrom) and invalid param declarations
are problems too. Checking never raises: whatever is wrong becomes a problem.

:func:`check_dag` validates a raw spec (the model's field checks, then the graph);
:func:`validate_dag` checks an already-parsed spec.
"""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from airkube.api.dag import DAGSpec, Task
from airkube.api.errors import describe_validation_error
from airkube.api.names import task_name_problem
from airkube.core.graph import find_cycles
from airkube.core.params import param_problems
from airkube.core.pod_fields import pod_field_problems
from airkube.core.suggest import Suggestions
from airkube.core.templates import template_problems

RESERVED_ENV_PREFIX = "AIRKUBE_"
_SHOWN_PLACES = 5
"""The most places a duplicated task name's message lists."""


class ProblemReason(StrEnum):
    """The kind of problem: the reason of a DAG's Ready=False condition."""

    INVALID_SPEC = "InvalidSpec"
    INVALID_TASK_NAME = "InvalidTaskName"
    DUPLICATE_TASK = "DuplicateTask"
    UNKNOWN_DEPENDENCY = "UnknownDependency"
    SELF_DEPENDENCY = "SelfDependency"
    CYCLE = "Cycle"
    MISSING_IMAGE = "MissingImage"
    RESERVED_ENV = "ReservedEnv"
    BAD_TEMPLATE = "BadTemplate"
    INVALID_PARAM = "InvalidParam"
    INVALID_POD_FIELD = "InvalidPodField"
    """A field of podTemplate or env valueFrom that a Pod does not have, or mistyped."""
    POD_REFUSED = "PodRefused"
    """The API server refuses the pod a task would get (the operator's dry run)."""


@dataclass(frozen=True)
class Problem:
    """One problem of a DAG spec."""

    reason: ProblemReason
    message: str
    task: str | None = None

    def __str__(self) -> str:
        return self.message


def check_dag(data: Mapping[str, Any] | DAGSpec) -> tuple[DAGSpec | None, list[Problem]]:
    """Parse and validate a DAG spec: the spec (None when it does not parse) and its problems.

    A spec is usable by the planner when the problem list is empty.
    """
    if isinstance(data, DAGSpec):
        spec = data
    else:
        try:
            spec = DAGSpec.model_validate(data)
        except ValidationError as exc:
            messages = describe_validation_error(exc, data, DAGSpec)
            return None, [Problem(ProblemReason.INVALID_SPEC, m) for m in messages]
    return spec, validate_dag(spec)


def validate_dag(spec: DAGSpec) -> list[Problem]:
    """The problems of a parsed DAG spec (names, duplicates, dependencies, images, Pod
    fields, templates, params, cycles).

    Ordered by the tasks' order in the spec; then Pod fields, templates, params, and
    cycles last.
    """
    problems: list[Problem] = []
    positions: dict[str, list[int]] = {}
    for i, task in enumerate(spec.tasks):
        positions.setdefault(task.name, []).append(i)
    names = set(positions)
    default_image = spec.defaults.image if spec.defaults else None
    default_env = spec.defaults.env if spec.defaults else None

    for name, where in _duplicates(positions):
        places = " and ".join(f"tasks[{i}]" for i in where[:_SHOWN_PLACES])
        if len(where) > _SHOWN_PLACES:
            places = ", ".join(f"tasks[{i}]" for i in where[:_SHOWN_PLACES])
            places += f" and {len(where) - _SHOWN_PLACES} more"
        problems.append(
            Problem(
                ProblemReason.DUPLICATE_TASK,
                f'task "{name}" is defined {len(where)} times ({places}); task names must be '
                "unique",
                name,
            )
        )
    for env in default_env or ():
        if env.name.startswith(RESERVED_ENV_PREFIX):
            problems.append(_reserved_env(None, env.name))
    reported_names: set[str] = set()
    suggestions = Suggestions(names)
    for task in spec.tasks:
        problems.extend(_task_problems(task, names, suggestions, default_image, reported_names))

    for field in pod_field_problems(spec):
        problems.append(Problem(ProblemReason.INVALID_POD_FIELD, str(field), field.task))
    for template in template_problems(spec):
        owner = f'task "{template.task}"' if template.task else "defaults"
        problems.append(
            Problem(
                ProblemReason.BAD_TEMPLATE,
                f"{owner}: {template.field}: {template.message}",
                template.task,
            )
        )
    for _name, message in param_problems(spec):
        problems.append(Problem(ProblemReason.INVALID_PARAM, message))

    upstream = {task.name: list(task.depends_on or ()) for task in spec.tasks}
    for cycle in find_cycles(upstream):
        problems.append(
            Problem(ProblemReason.CYCLE, f"tasks form a cycle: {' → '.join(cycle)}", cycle[0])
        )
    return problems


def _duplicates(positions: Mapping[str, list[int]]) -> list[tuple[str, list[int]]]:
    return [(name, where) for name, where in positions.items() if len(where) > 1]


def _reserved_env(task: str | None, name: str) -> Problem:
    owner = f'task "{task}"' if task else "defaults"
    return Problem(
        ProblemReason.RESERVED_ENV,
        f'{owner}: env var "{name}" is reserved: airkube sets the {RESERVED_ENV_PREFIX}* '
        "variables itself",
        task,
    )


def _task_problems(
    task: Task,
    names: set[str],
    suggestions: Suggestions,
    default_image: str | None,
    reported_names: set[str],
) -> list[Problem]:
    problems = []
    name_problem = task_name_problem(task.name)
    if name_problem and task.name not in reported_names:
        reported_names.add(task.name)
        problems.append(Problem(ProblemReason.INVALID_TASK_NAME, name_problem, task.name))
    if not task.image and not default_image:
        problems.append(
            Problem(
                ProblemReason.MISSING_IMAGE,
                f'task "{task.name}" has no image: set image on the task or in the DAG defaults',
                task.name,
            )
        )
    counts = Counter(task.depends_on or ())
    for dep, count in counts.items():
        if dep == task.name:
            problems.append(
                Problem(
                    ProblemReason.SELF_DEPENDENCY,
                    f'task "{task.name}" depends on itself',
                    task.name,
                )
            )
        elif dep not in names:
            problems.append(
                Problem(
                    ProblemReason.UNKNOWN_DEPENDENCY,
                    f'task "{task.name}" depends on "{dep}", which is not a task of this DAG'
                    f"{suggestions.hint(dep)}",
                    task.name,
                )
            )
        if count > 1:
            problems.append(
                Problem(
                    ProblemReason.INVALID_SPEC,
                    f'task "{task.name}" lists "{dep}" in dependsOn {count} times',
                    task.name,
                )
            )
    for env in task.env or ():
        if env.name.startswith(RESERVED_ENV_PREFIX):
            problems.append(_reserved_env(task.name, env.name))
    return problems
