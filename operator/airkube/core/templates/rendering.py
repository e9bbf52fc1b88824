"""Rendering a task's templates for one try: the context a template reads, one string, a
task's command, args and env values, and the planner's renderer of a run.

Whatever goes wrong in a template (an unknown variable, filter or test, a task without
output, a syntax error, a refusal of the sandbox, anything it raises) becomes a
:class:`~airkube.core.model.render.RenderError` naming the field (``args[1]``,
``command[0]``, ``env[TABLE]``) and the cause, in one line: the planner fails that task
without a pod. ``valueFrom`` env entries are not templates.
"""

from collections.abc import Collection, Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from jinja2 import StrictUndefined

from airkube.api.dag import DAGSpec
from airkube.api.dagrun import TaskStatus
from airkube.api.states import TaskState
from airkube.core.cron import as_utc
from airkube.core.model.render import Renderer, RenderError
from airkube.core.model.run import Run
from airkube.core.params import ParamsError, resolve_params
from airkube.core.resolve import ResolvedTask
from airkube.core.suggest import suggest
from airkube.core.timetables import DataInterval, infer_manual_data_interval

from .sandbox import compile_template, describe, generate, is_template, time_limit


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

    def describe_missing(self, name: str) -> str:
        known = sorted(self._values)
        listed = ", ".join(known) if known else "none"
        return (
            f"params.{name} is undefined: no param {name} (params: {listed}){suggest(name, known)}"
        )


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

    def describe_missing(self, name: str) -> str:
        return (
            f'tasks.{name} is undefined: "{name}" is not a task of this DAG'
            f"{suggest(name, sorted(self._names))}"
        )


def render_string(text: str, context: Mapping[str, Any], field: str) -> str:
    """``text`` rendered with ``context``; :class:`RenderError` names ``field`` and the
    cause, whatever the template raised."""
    if not is_template(text):
        return text
    try:
        return generate(compile_template(text), context)
    except Exception as exc:  # a template must never break the operator
        raise RenderError(f"{field}: {describe(exc)}") from exc


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
    """The variables a task's templates read (see :mod:`airkube.core.templates`).

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
    """``task`` with its command, args and env values rendered (a new ResolvedTask), in
    :data:`~.sandbox.MAX_RENDER_SECONDS` in all."""
    with time_limit():
        return _render_fields(task, context)


def _render_fields(task: ResolvedTask, context: Mapping[str, Any]) -> ResolvedTask:
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
