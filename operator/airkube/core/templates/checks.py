"""The templates of a DAG that can never render, found without running them: what DAG
validation reports (``airkube validate``, the DAG's Ready condition).

Each template is parsed and put through Jinja's code generator, as the renderer's compile
would; its filters, tests and variables are looked up; ``tasks.<name>`` must name a task
of the DAG. Whatever Jinja (or
Python) raises on the way becomes one problem naming the field: checking never raises.
What depends on values (params given at run time, upstream outputs) is only known when a
task starts; those errors fail the task (see :mod:`.rendering`).
"""

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from functools import lru_cache

from jinja2 import nodes
from jinja2.meta import find_undeclared_variables

from airkube.api.container import EnvVar
from airkube.api.dag import DAGSpec, Task
from airkube.core.suggest import Suggestions, suggest

from .sandbox import (
    CONTEXT_NAMES,
    ENV,
    GLOBAL_NAMES,
    NO_LOADER,
    describe,
    is_template,
    parse,
    unknown_filter,
    unknown_test,
)


@dataclass(frozen=True)
class TemplateProblem:
    """A template of the DAG that can never render."""

    task: str | None
    """None for the DAG defaults' env."""
    field: str
    message: str


def _task_templates(task: Task | None, env: list[EnvVar] | None) -> Iterator[tuple[str, str]]:
    if task is not None:
        for i, text in enumerate(task.command or ()):
            yield f"command[{i}]", text
        for i, text in enumerate(task.args or ()):
            yield f"args[{i}]", text
    for var in env or ():
        if var.value is not None:
            yield f"env[{var.name}]", var.value


def _task_references(tree: nodes.Template) -> list[str]:
    """The names read as ``tasks.<name>`` or ``tasks['name']``."""
    found = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        key: object = None
        if isinstance(node, nodes.Getattr):
            target, key = node.node, node.attr
        elif isinstance(node, nodes.Getitem):
            target = node.node
            if isinstance(node.arg, nodes.Const):
                key = node.arg.value
        else:
            continue
        if isinstance(target, nodes.Name) and target.name == "tasks" and isinstance(key, str):
            found.append(key)
    return found


def _unknown_names(tree: nodes.Template) -> list[str]:
    """Unknown filters and tests, and what needs a loader: Jinja would only report the
    first of them (while compiling)."""
    messages: list[str] = []
    for node in tree.find_all((nodes.Filter, nodes.Test)):
        if isinstance(node, nodes.Filter) and node.name not in ENV.filters:
            messages.append(unknown_filter(node.name))
        elif isinstance(node, nodes.Test) and node.name not in ENV.tests:
            messages.append(unknown_test(node.name))
    loads = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)
    if next(tree.find_all(loads), None) is not None:
        messages.append(NO_LOADER)
    return list(dict.fromkeys(messages))


@lru_cache(maxsize=4096)
def _source_problems(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(what is wrong with ``text`` whatever the DAG, the task names it reads): cached,
    as the tasks of a big DAG often share their templates."""
    try:
        tree = parse(text)
        messages = _unknown_names(tree)
        if messages:
            return tuple(messages), ()
        known = {*CONTEXT_NAMES, *GLOBAL_NAMES}
        # This runs Jinja's code generator over the tree: what compiling would refuse
        # (a block defined twice, say) raises here.
        for name in sorted(find_undeclared_variables(tree) - known):
            messages.append(f'"{name}" is undefined{suggest(name, CONTEXT_NAMES)}')
        return tuple(messages), tuple(_task_references(tree))
    except Exception as exc:  # checking a template must never break validation
        return (describe(exc),), ()


def check_template(
    text: str, task_names: Collection[str], suggestions: Suggestions | None = None
) -> list[str]:
    """What is wrong with the template ``text`` whatever values it gets (empty when it can
    render), one message each. Never raises. ``suggestions`` (of ``task_names``) is shared
    by the checks of one DAG, so that hints stay bounded."""
    if not is_template(text):
        return []
    messages, references = _source_problems(text)
    unknown = [name for name in references if name not in task_names]
    if not unknown:
        return list(messages)
    hints = suggestions if suggestions is not None else Suggestions(task_names)
    return [*messages] + [
        f'tasks.{name} is undefined: "{name}" is not a task of this DAG{hints.hint(name)}'
        for name in unknown
    ]


def template_problems(spec: DAGSpec) -> list[TemplateProblem]:
    """The templates of ``spec`` that can never render: syntax errors, unknown variables,
    filters and tests, unknown tasks in ``tasks.<name>``, includes, and anything else
    Jinja refuses while compiling. (Values, params given at run time and outputs are only
    known when a task starts.)"""
    problems: list[TemplateProblem] = []
    names = {task.name for task in spec.tasks}
    suggestions = Suggestions(names)
    owners: list[tuple[Task | None, list[EnvVar] | None]] = [
        (None, spec.defaults.env if spec.defaults else None)
    ]
    owners += [(task, task.env) for task in spec.tasks]
    for task, env in owners:
        owner = task.name if task is not None else None
        for field, text in _task_templates(task, env):
            for message in check_template(text, names, suggestions):
                problems.append(TemplateProblem(owner, field, message))
    return problems
