"""``airkube render-task``: a task's command, args and env as a run of a given logical date
would render them, without a run."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airkube.api.container import EnvVar
from airkube.api.dag import DAGSpec
from airkube.core.cron import as_utc
from airkube.core.params import ParamsError, resolve_params
from airkube.core.resolve import resolve_task
from airkube.core.run_names import manual_run_name, scheduled_run_name
from airkube.core.suggest import suggest
from airkube.core.timetables import (
    DataInterval,
    IntervalSchedule,
    infer_manual_data_interval,
    schedule_of,
)

from .rendering import render_task, template_context


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
    :class:`~airkube.core.model.render.RenderError` for a template that cannot be rendered.
    """
    task = next((t for t in spec.tasks if t.name == task_name), None)
    if task is None:
        names = [t.name for t in spec.tasks]
        raise ValueError(
            f'DAG {dag} has no task "{task_name}"{suggest(task_name, names)} '
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
