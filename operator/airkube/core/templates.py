"""Templates in a task's command, args and env values: Jinja2, sandboxed, StrictUndefined,
with Airflow's names.

What a template can read (datetimes are aware, in UTC, as Airflow's are):

============================  ==========================================================
``ds`` / ``ds_nodash``        the logical date, ``2026-11-24`` / ``20261124``
``ts`` / ``ts_nodash``        ``2026-11-24T00:00:00+00:00`` / ``20261124T000000``
``ts_nodash_with_tz``         ``20261124T000000+0000``
``logical_date``              the logical date (``{{ logical_date.strftime('%Y') }}``)
``data_interval_start/end``   the run's data interval
``run_id``                    the DAGRun's name
``dag`` / ``task``            the DAG's and the task's names
``try_number``                the try being started, from 1
``params``                    the run's params (``{{ params.table }}``)
``tasks``                     ``{{ tasks.extract.output }}``: what task extract wrote to
                              /dev/termination-log
============================  ==========================================================

plus the filter ``in_timezone`` (``{{ logical_date | in_timezone('Europe/Paris') }}``).

A template that cannot be rendered (an unknown variable, a task without output, a syntax
error, anything it raises) raises :class:`~airkube.core.plan.RenderError` naming the field
(``args[1]``, ``command[0]``, ``env[TABLE]``) and the cause: the planner fails that task
without a pod. The sandbox refuses access to internals (``''.__class__``) and values big
enough to exhaust the operator's memory (see :class:`_Sandbox` for what it does not cover).

Only strings holding ``{{``, ``{%`` or ``{#`` are templates; others are left as they are.
``valueFrom`` env entries are not templates.
"""

import difflib
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any, NoReturn

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.meta import find_undeclared_variables
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing

from airkube.api.container import EnvVar
from airkube.api.dag import DAGSpec, Task
from airkube.api.dagrun import TaskStatus
from airkube.api.states import TaskState
from airkube.core.cron import as_utc, zone
from airkube.core.model.render import Renderer, RenderError
from airkube.core.model.run import Run
from airkube.core.params import ParamsError, resolve_params
from airkube.core.resolve import ResolvedTask, resolve_task
from airkube.core.run_names import manual_run_name, scheduled_run_name
from airkube.core.timetables import (
    DataInterval,
    IntervalSchedule,
    infer_manual_data_interval,
    schedule_of,
)

CONTEXT_NAMES = (
    "ds",
    "ds_nodash",
    "ts",
    "ts_nodash",
    "ts_nodash_with_tz",
    "logical_date",
    "data_interval_start",
    "data_interval_end",
    "run_id",
    "dag",
    "task",
    "try_number",
    "params",
    "tasks",
)
"""Every name a template can read."""

MAX_RENDERED_LENGTH = 128 * 1024
"""The longest a rendered value may be (a pod's whole spec must stay well under 1.5 MiB)."""
MAX_LOOP_ITERATIONS = 1_000_000
"""The most iterations all the ``{% for %}`` loops of one rendering may make together."""
_MAX_SIZE = 1_000_000
"""The largest repetition, width or exponent a template may ask for."""
_MARKERS = ("{{", "{%", "{#")
_BIG_WIDTH = re.compile(r"[0-9]{7,}")


def is_template(text: str) -> bool:
    """Whether ``text`` holds Jinja syntax (else it is used as it is)."""
    return any(marker in text for marker in _MARKERS)


def _refuse(message: str) -> NoReturn:
    raise SecurityError(message)


_LOOP_GUARD = "airkube_loop_guard"
_loops_left: ContextVar[list[int]] = ContextVar("airkube_template_loops_left")


def _loop_guard(iterable: Iterable[Any]) -> Iterator[Any]:
    """What every ``{% for %}`` iterates through: counts the iterations of a rendering."""
    left = _loops_left.get()
    for item in iterable:
        left[0] -= 1
        if left[0] < 0:
            _refuse(f"templates may loop at most {MAX_LOOP_ITERATIONS} times")
        yield item


class _Params:
    """``params`` in templates: ``params.name`` and ``params['name']``."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __str__(self) -> str:
        return str(self._values)

    def known(self) -> list[str]:
        return sorted(self._values)


class _TaskView:
    """``tasks.<name>`` in templates."""

    def __init__(self, name: str, status: TaskStatus | None, placeholder: bool) -> None:
        self._name = name
        self._status = status
        self._placeholder = placeholder

    @property
    def output(self) -> Any:
        if self._placeholder:
            return f"<output of {self._name}>"
        status = self._status
        if status is not None and status.output is not None:
            return status.output
        if status is None or status.state is not TaskState.SUCCEEDED:
            state = status.state if status is not None else TaskState.NONE
            why = f"it is {state}, not Succeeded"
        else:
            why = "it succeeded without writing to /dev/termination-log"
        return StrictUndefined(
            hint=f'tasks.{self._name}.output: task "{self._name}" has no output: {why}'
        )


class _Tasks:
    """``tasks`` in templates: the tasks of the run, by name."""

    def __init__(
        self, names: Collection[str], states: Mapping[str, TaskStatus], placeholder: bool
    ) -> None:
        # Kept as given, not copied: a context is made for every pod, and a copy per pod
        # made the first pass of an N-task run O(N²) (a 10,000-task run waited 5 s).
        self._names = names
        self._states = states
        self._placeholder = placeholder

    def __getattr__(self, name: str) -> _TaskView:
        if name not in self._names:
            raise AttributeError(name)
        return _TaskView(name, self._states.get(name), self._placeholder)

    def __getitem__(self, name: str) -> _TaskView:
        if name not in self._names:
            raise KeyError(name)
        return _TaskView(name, self._states.get(name), self._placeholder)

    def known(self) -> list[str]:
        return sorted(self._names)


def _suggest(name: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""


class _Undefined(StrictUndefined):
    """StrictUndefined whose messages name the variable and suggest the right one."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        hint: str | None = self._undefined_hint
        if hint:
            return hint
        name = self._undefined_name
        owner = self._undefined_obj
        if owner is missing:
            return f'"{name}" is undefined{_suggest(str(name), CONTEXT_NAMES)}'
        if isinstance(owner, _Params):
            known = owner.known()
            listed = ", ".join(known) if known else "none"
            return (
                f"params.{name} is undefined: no param {name} (params: {listed})"
                f"{_suggest(str(name), known)}"
            )
        if isinstance(owner, _Tasks):
            return (
                f'tasks.{name} is undefined: "{name}" is not a task of this DAG'
                f"{_suggest(str(name), owner.known())}"
            )
        message: str = super()._undefined_message
        return message


def _check_size(value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_SIZE:
        _refuse(f"the number {value} is too large for a template")


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox (no internals, no mutation of values), which also refuses
    what would exhaust the operator's memory or CPU: repeating a string or list past a
    size, huge numbers as exponents, widths and padding, output past
    :data:`MAX_RENDERED_LENGTH` (counted while it is produced), and loops past
    :data:`MAX_LOOP_ITERATIONS` iterations in all (every ``{% for %}`` is compiled to
    iterate through :func:`_loop_guard`).
    """

    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                repeated = isinstance(seq, str | list | tuple) and isinstance(times, int)
                if repeated and len(seq) * times > MAX_RENDERED_LENGTH:
                    _refuse("repeating a value that many times is not allowed in a template")
        elif operator == "**":
            _check_size(right)
            big = isinstance(right, int) and right > 10_000
            if big and isinstance(left, int | float) and abs(left) > 1:
                _refuse("an exponent that large is not allowed in a template")
        elif operator == "%" and isinstance(left, str) and _BIG_WIDTH.search(left):
            _refuse("a format width that large is not allowed in a template")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        for value in (*args, *kwargs.values()):
            _check_size(value)
        return super().call(__context, __obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        formats = isinstance(obj, str) and attribute in ("format", "format_map")
        if formats and _BIG_WIDTH.search(obj):
            return self.unsafe_undefined(obj, attribute)
        return super().getattr(obj, attribute)


def _in_timezone(value: datetime, name: str) -> datetime:
    return value.astimezone(zone(name))


def _checked_filter(filter_function: Callable[..., Any]) -> Callable[..., Any]:
    def checked(*args: Any, **kwargs: Any) -> Any:
        for value in (*args[1:], *kwargs.values()):
            _check_size(value)
        return filter_function(*args, **kwargs)

    return checked


def _environment() -> _Sandbox:
    env = _Sandbox(undefined=_Undefined, keep_trailing_newline=True, autoescape=False)
    for name in ("center", "indent", "wordwrap", "truncate", "batch", "slice"):
        env.filters[name] = _checked_filter(env.filters[name])
    original_format = env.filters["format"]

    def checked_format(value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and _BIG_WIDTH.search(value):
            _refuse("a format width that large is not allowed in a template")
        return original_format(value, *args, **kwargs)

    env.filters["format"] = checked_format
    env.filters["in_timezone"] = _in_timezone
    del env.globals["lipsum"]  # lorem ipsum: of no use in a command, and a memory hog
    env.globals[_LOOP_GUARD] = _loop_guard
    return env


_ENV = _environment()


@lru_cache(maxsize=4096)
def _compile(source: str) -> Template:
    tree = _ENV.parse(source)
    for loop in list(tree.find_all(nodes.For)):
        guard = nodes.Name(_LOOP_GUARD, "load", lineno=loop.lineno)
        loop.iter = nodes.Call(guard, [loop.iter], [], None, None, lineno=loop.lineno)
    return _ENV.template_class.from_code(_ENV, _ENV.compile(tree), _ENV.make_globals(None), None)


class _TooLongError(Exception):
    """The rendered value grew past MAX_RENDERED_LENGTH."""


def _generate(template: Template, context: Mapping[str, Any]) -> str:
    token = _loops_left.set([MAX_LOOP_ITERATIONS])
    try:
        parts: list[str] = []
        length = 0
        for part in template.generate(context):
            length += len(part)
            if length > MAX_RENDERED_LENGTH:
                raise _TooLongError
            parts.append(part)
        return "".join(parts)
    finally:
        _loops_left.reset(token)


def _describe(exc: Exception) -> str:
    if isinstance(exc, TemplateSyntaxError):
        return f"template syntax error on line {exc.lineno}: {exc.message}"
    if isinstance(exc, SecurityError):
        return f"not allowed: {exc}"
    if isinstance(exc, TemplateError):
        return str(exc.message)
    return f"{type(exc).__name__}: {exc}"


def render_string(text: str, context: Mapping[str, Any], field: str) -> str:
    """``text`` rendered with ``context``; :class:`RenderError` names ``field`` and the
    cause."""
    if not is_template(text):
        return text
    try:
        return _generate(_compile(text), context)
    except _TooLongError:
        raise RenderError(
            f"{field}: the rendered value is longer than the limit of {MAX_RENDERED_LENGTH} "
            "characters"
        ) from None
    except Exception as exc:  # a template must never break the operator
        raise RenderError(f"{field}: {_describe(exc)}") from exc


def template_context(
    *,
    dag: str,
    run_id: str,
    logical_date: datetime,
    data_interval: DataInterval,
    task: str,
    try_number: int,
    params: Mapping[str, Any],
    task_names: Collection[str],
    task_states: Mapping[str, TaskStatus],
    placeholder_outputs: bool = False,
) -> dict[str, Any]:
    """The variables a task's templates read (see the module docstring).

    ``task_names`` is kept, not copied: a set or a mapping's keys (templates look names up).

    ``placeholder_outputs``: ``tasks.<name>.output`` is ``<output of name>`` (a preview,
    with no run to read outputs from).
    """
    when = as_utc(logical_date, "the logical date")
    ts = when.isoformat()
    return {
        "ds": when.strftime("%Y-%m-%d"),
        "ds_nodash": when.strftime("%Y%m%d"),
        "ts": ts,
        "ts_nodash": when.strftime("%Y%m%dT%H%M%S"),
        "ts_nodash_with_tz": ts.replace("-", "").replace(":", ""),
        "logical_date": when,
        "data_interval_start": data_interval.start,
        "data_interval_end": data_interval.end,
        "run_id": run_id,
        "dag": dag,
        "task": task,
        "try_number": try_number,
        "params": _Params(params),
        "tasks": _Tasks(task_names, task_states, placeholder_outputs),
    }


def render_task(task: ResolvedTask, context: Mapping[str, Any]) -> ResolvedTask:
    """``task`` with its command, args and env values rendered (a new ResolvedTask)."""
    command = task.command
    if command is not None:
        command = tuple(render_string(s, context, f"command[{i}]") for i, s in enumerate(command))
    args = task.args
    if args is not None:
        args = tuple(render_string(s, context, f"args[{i}]") for i, s in enumerate(args))
    env = tuple(
        e.model_copy(update={"value": render_string(e.value, context, f"env[{e.name}]")})
        if e.value is not None and is_template(e.value)
        else e
        for e in task.env
    )
    return replace(task, command=command, args=args, env=env)


def make_renderer(
    *,
    dag: str,
    run_id: str,
    logical_date: datetime,
    data_interval: DataInterval | None,
    params: Mapping[str, Any],
) -> Renderer:
    """The planner's renderer for one run (``plan(..., renderer=...)``). ``params`` are the
    run's resolved values (:func:`airkube.core.params.resolve_params`); without a data
    interval, the empty one at the logical date."""
    interval = data_interval or DataInterval.exact(logical_date)

    def render(
        task: ResolvedTask, try_number: int, tasks: Mapping[str, TaskStatus]
    ) -> ResolvedTask:
        context = template_context(
            dag=dag,
            run_id=run_id,
            logical_date=logical_date,
            data_interval=interval,
            task=task.name,
            try_number=try_number,
            params=params,
            task_names=tasks.keys(),
            task_states=tasks,
        )
        return render_task(task, context)

    return render


def run_renderer(spec: DAGSpec, run: Run, *, created: datetime) -> Renderer:
    """The renderer of ``run`` of the DAG ``spec`` (the spec it pinned).

    The logical date is the run's, else ``created`` (the DAGRun's creationTimestamp, as
    the spec documents); the data interval is the run's, else inferred as Airflow does for
    a manual run. Raises :class:`~airkube.core.params.ParamsError` when the run's params
    are invalid: the run must then fail (reason InvalidParams) without starting.
    """
    resolved = resolve_params(spec.params, run.spec.params)
    if resolved.problems:
        raise ParamsError(resolved.problems)
    logical_date = run.spec.logical_date or created
    start, end = run.spec.data_interval_start, run.spec.data_interval_end
    if start is not None and end is not None:
        interval = DataInterval(start, end)
    else:
        interval = infer_manual_data_interval(spec, logical_date)
    return make_renderer(
        dag=run.dag,
        run_id=run.name,
        logical_date=logical_date,
        data_interval=interval,
        params=resolved.values,
    )


@dataclass(frozen=True)
class RenderedTask:
    """What ``airkube render-task`` shows."""

    run_id: str
    logical_date: datetime
    data_interval: DataInterval
    params: Mapping[str, Any]
    command: tuple[str, ...] | None
    args: tuple[str, ...] | None
    env: tuple[EnvVar, ...]


def render_task_preview(
    dag: str,
    spec: DAGSpec,
    task_name: str,
    *,
    logical_date: datetime,
    params: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    try_number: int = 1,
) -> RenderedTask:
    """The command, args and env of ``task_name`` as a run with ``logical_date`` would
    render them, without a run.

    The data interval is the one the scheduled run of that logical date has when the DAG's
    interval timetable fires then, else the one a manual run gets. The run id is the
    scheduled run's name in the first case, else the manual run's. Upstream outputs are
    not known: ``tasks.<name>.output`` renders as ``<output of name>``. Raises
    ``ValueError`` for an unknown task, :class:`ParamsError` for invalid params and
    :class:`RenderError` for a template that cannot be rendered.
    """
    task = next((t for t in spec.tasks if t.name == task_name), None)
    if task is None:
        names = [t.name for t in spec.tasks]
        raise ValueError(
            f'DAG {dag} has no task "{task_name}"{_suggest(task_name, names)} '
            f"(tasks: {', '.join(names)})"
        )
    resolved = resolve_params(spec.params, params)
    if resolved.problems:
        raise ParamsError(resolved.problems)
    when = as_utc(logical_date, "the logical date")
    schedule = schedule_of(spec)
    if isinstance(schedule, IntervalSchedule) and schedule.cron.align_next(when) == when:
        interval = DataInterval(when, schedule.cron.next(when))
        default_run_id = scheduled_run_name(dag, when)
    else:
        interval = infer_manual_data_interval(spec, when)
        default_run_id = manual_run_name(dag, when)
    run = run_id or default_run_id
    context = template_context(
        dag=dag,
        run_id=run,
        logical_date=when,
        data_interval=interval,
        task=task_name,
        try_number=try_number,
        params=resolved.values,
        task_names=frozenset(t.name for t in spec.tasks),
        task_states={},
        placeholder_outputs=True,
    )
    rendered = render_task(resolve_task(spec, task), context)
    return RenderedTask(
        run_id=run,
        logical_date=when,
        data_interval=interval,
        params=resolved.values,
        command=rendered.command,
        args=rendered.args,
        env=rendered.env,
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


def _unknown_tasks(tree: nodes.Template, names: Collection[str]) -> list[str]:
    unknown = []
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
        is_tasks = isinstance(target, nodes.Name) and target.name == "tasks"
        if is_tasks and isinstance(key, str) and key not in names:
            unknown.append(key)
    return unknown


def template_problems(spec: DAGSpec) -> list[TemplateProblem]:
    """The templates of ``spec`` that can never render: syntax errors, unknown variables
    and unknown tasks in ``tasks.<name>``. (Values, params given at run time and outputs
    are only known when a task starts.)"""
    problems: list[TemplateProblem] = []
    names = {task.name for task in spec.tasks}
    owners: list[tuple[Task | None, list[EnvVar] | None]] = [
        (None, spec.defaults.env if spec.defaults else None)
    ]
    owners += [(task, task.env) for task in spec.tasks]
    for task, env in owners:
        owner = task.name if task is not None else None
        for field, text in _task_templates(task, env):
            if not is_template(text):
                continue
            try:
                tree = _ENV.parse(text)
            except TemplateSyntaxError as exc:
                problems.append(TemplateProblem(owner, field, _describe(exc)))
                continue
            known = {*CONTEXT_NAMES, *_ENV.globals}
            for name in sorted(find_undeclared_variables(tree) - known):
                problems.append(
                    TemplateProblem(
                        owner,
                        field,
                        f'"{name}" is undefined{_suggest(name, CONTEXT_NAMES)}',
                    )
                )
            for name in _unknown_tasks(tree, names):
                problems.append(
                    TemplateProblem(
                        owner,
                        field,
                        f'tasks.{name} is undefined: "{name}" is not a task of this DAG'
                        f"{_suggest(name, names)}",
                    )
                )
    return problems
