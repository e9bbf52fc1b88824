"""``DAG``: a DAG defined in Python, as in Airflow (``with DAG("etl", schedule="@daily",
default_args={...}) as dag:``), rendered to the ``DAG`` resource.

Airflow's names map to the resource's fields: ``start_date`` → ``startDate``,
``default_args`` → ``defaults``, ``dagrun_timeout=timedelta(hours=2)`` → ``dagrunTimeout:
2h``, and so on. Every argument is checked by the resource's own models when the DAG is
created, so a mistake is reported at the line that makes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, overload

from pydantic import ValidationError

from airkube.api.dag import DAGSpec, PodGCStrategy, Timetable
from airkube.api.meta import API_VERSION, DAG_KIND
from airkube.sdk.errors import DAGDefinitionError
from airkube.sdk.locations import Location, caller_location
from airkube.sdk.params import Param
from airkube.sdk.settings import (
    defaults_fields,
    duration,
    validation_messages,
)

if TYPE_CHECKING:
    from airkube.sdk.groups import TaskGroup
    from airkube.sdk.tasks import Task

DAG_NAME_MAX_LENGTH = 253
_DAG_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_PLACEHOLDER_TASK = {"name": "placeholder", "image": "placeholder"}

_active: list[DAG] = []
"""The DAGs of the ``with DAG(...)`` blocks being run, innermost last."""
_collectors: list[list[DAG]] = []
"""Lists that every DAG created is added to (see :func:`collect_dags`)."""


def current_dag() -> DAG | None:
    """The DAG of the innermost ``with DAG(...)`` block, if any."""
    return _active[-1] if _active else None


def owning_dag(dag: DAG | None, what: str) -> DAG:
    """``dag``, else the DAG of the innermost ``with DAG(...)`` block; ``what`` (a task, a
    group) belongs to no DAG otherwise."""
    owner = dag or current_dag()
    if owner is None:
        raise DAGDefinitionError(
            f"{what} belongs to no DAG: create it inside `with DAG(...):` or pass dag="
        )
    return owner


@contextmanager
def collect_dags() -> Iterator[list[DAG]]:
    """Collect the DAGs created in the block (the loader's registry of a file's DAGs)."""
    found: list[DAG] = []
    _collectors.append(found)
    depth = len(_active)
    try:
        yield found
    finally:
        _collectors.remove(found)
        del _active[depth:]  # a block left by an exception that skipped __exit__


def dag_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a DAG resource, or None when it can."""
    if len(name) <= DAG_NAME_MAX_LENGTH and _DAG_NAME.fullmatch(name):
        return None
    suggestion = re.sub(r"[^a-z0-9.-]+", "-", name.lower()).strip("-.") or "my-dag"
    return (
        f'DAG id "{name}" cannot name a Kubernetes resource: use lowercase letters, digits, '
        f"'-' and '.', starting and ending with a letter or digit (for example "
        f'"{suggestion[:DAG_NAME_MAX_LENGTH]}")'
    )


def _timezone_name(value: str | tzinfo) -> str:
    if isinstance(value, str):
        return value
    key = getattr(value, "key", None) or getattr(value, "name", None)  # zoneinfo, pendulum
    if isinstance(key, str):
        return key
    if value == UTC:
        return "UTC"
    raise DAGDefinitionError(
        f"timezone {value!r} has no IANA name: use one, such as "
        '"Europe/Paris" or ZoneInfo("Europe/Paris")'
    )


def _date_time(value: datetime | date | str) -> datetime | str:
    if isinstance(value, datetime | str):
        return value
    return datetime.combine(value, time())  # a date: its midnight, in the DAG's timezone


def _schedule(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, timedelta):
        raise DAGDefinitionError(
            f"schedule {value!r}: timedelta schedules are not supported; use a cron "
            'expression ("*/30 * * * *") or a preset ("@hourly")'
        )
    raise DAGDefinitionError(
        f"schedule {value!r} is not supported: use a cron expression, a preset such as "
        '"@daily", or None (runs are only triggered)'
    )


def params_value(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params``, each :class:`Param` written as its declaration."""
    return {
        name: value.declaration() if isinstance(value, Param) else value
        for name, value in params.items()
    }


class DAG:
    """A DAG: its tasks and when and how its runs happen.

    Use it as a context manager: tasks created in the ``with`` block belong to it. Every
    argument is optional but the id; unset ones keep the resource's defaults.

    - ``schedule``: a cron expression, a preset (``@daily``…) or None (manual runs only).
    - ``start_date``, ``end_date``: datetimes or dates; naive ones are read in ``timezone``.
      An aware ``start_date`` with an IANA zone (``ZoneInfo("Europe/Berlin")``) sets the
      DAG's timezone when ``timezone`` is not given, as in Airflow.
    - ``dagrun_timeout``: a ``timedelta`` (or seconds, or "2h").
    - ``params``: defaults, or :class:`Param` declarations.
    - ``default_args``: settings of every task (image, retries, retry_delay, env,
      resources, annotations, trigger_rule…); a task's own value wins.
    - ``pod_gc``: "OnRunSuccess", "OnRunCompletion", "OnPodSuccess" or "Never".
    - ``labels``, ``annotations``: the DAG resource's metadata.
    """

    def __init__(
        self,
        dag_id: str,
        *,
        description: str | None = None,
        schedule: str | None = None,
        timetable: Timetable | str | None = None,
        timezone: str | tzinfo | None = None,
        start_date: datetime | date | str | None = None,
        end_date: datetime | date | str | None = None,
        catchup: bool | None = None,
        paused: bool | None = None,
        max_active_runs: int | None = None,
        max_active_tasks: int | None = None,
        dagrun_timeout: timedelta | float | str | None = None,
        params: Mapping[str, Any] | None = None,
        default_args: Mapping[str, Any] | None = None,
        successful_runs_history_limit: int | None = None,
        failed_runs_history_limit: int | None = None,
        pod_gc: PodGCStrategy | str | None = None,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> None:
        self.location = caller_location()
        if not isinstance(dag_id, str):
            raise DAGDefinitionError(f"DAG id {dag_id!r} must be a string")
        problem = dag_name_problem(dag_id)
        if problem:
            raise DAGDefinitionError(problem)
        self.dag_id = dag_id
        self.labels = dict(labels or {})
        self.annotations = dict(annotations or {})
        if timezone is None and isinstance(start_date, datetime) and start_date.tzinfo:
            name = getattr(start_date.tzinfo, "key", None)
            timezone = name if isinstance(name, str) else None
        given: dict[str, Any] = {
            "description": description,
            "schedule": None if schedule is None else _schedule(schedule),
            "timetable": timetable,
            "timezone": None if timezone is None else _timezone_name(timezone),
            "start_date": None if start_date is None else _date_time(start_date),
            "end_date": None if end_date is None else _date_time(end_date),
            "catchup": catchup,
            "paused": paused,
            "max_active_runs": max_active_runs,
            "max_active_tasks": max_active_tasks,
            "dagrun_timeout": None if dagrun_timeout is None else duration(dagrun_timeout),
            "params": None if params is None else params_value(params),
            "successful_runs_history_limit": successful_runs_history_limit,
            "failed_runs_history_limit": failed_runs_history_limit,
            "pod_gc": {"strategy": pod_gc} if isinstance(pod_gc, str) else pod_gc,
        }
        self._fields = {key: value for key, value in given.items() if value is not None}
        args = dict(default_args or {})
        self.default_trigger_rule = args.get("trigger_rule")
        self._defaults = defaults_fields(args, f"DAG {dag_id}: default_args") if args else {}
        try:
            DAGSpec.model_validate(
                {**self._fields, "defaults": self._defaults, "tasks": [_PLACEHOLDER_TASK]}
            )
        except ValidationError as exc:
            raise DAGDefinitionError(validation_messages(exc, f"DAG {dag_id}: ")) from None
        self.tasks: list[Task] = []
        self.task_dict: dict[str, Task] = {}
        self.task_groups: dict[str, TaskGroup] = {}
        self._group_stack: list[TaskGroup] = []
        self._edge_count = 0
        for found in _collectors:
            found.append(self)

    def __repr__(self) -> str:
        return f"<DAG {self.dag_id}: {len(self.tasks)} tasks>"

    def __enter__(self) -> DAG:
        _active.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self in _active:
            _active.remove(self)

    # Tasks and groups (used by Task and TaskGroup) --------------------------------------

    def current_group(self) -> TaskGroup | None:
        """The innermost ``with TaskGroup(...)`` block of this DAG being run."""
        return self._group_stack[-1] if self._group_stack else None

    def child_name(self, task_id: str) -> str:
        """The name a task created now gets: its id after its groups' prefixes."""
        group = self.current_group()
        return group.child_id(task_id) if group else task_id

    def add_task(self, task: Task) -> int:
        """Register ``task``; its position in the DAG."""
        other = self.task_dict.get(task.task_id)
        if other is not None:
            where = f" (first defined at {other.location})" if other.location else ""
            raise DAGDefinitionError(
                f'DAG {self.dag_id}: task "{task.task_id}" is defined twice{where}; task '
                "names must be unique"
            )
        self.task_dict[task.task_id] = task
        self.tasks.append(task)
        return len(self.tasks) - 1

    def next_edge_number(self) -> int:
        self._edge_count += 1
        return self._edge_count

    def get_task(self, task_id: str) -> Task:
        try:
            return self.task_dict[task_id]
        except KeyError:
            raise DAGDefinitionError(
                f'DAG {self.dag_id} has no task "{task_id}"', self.location
            ) from None

    # Rendering ---------------------------------------------------------------------------

    def to_spec(self) -> DAGSpec:
        """The resource's spec; raises DAGDefinitionError (at the DAG's line) when invalid."""
        if not self.tasks:
            raise DAGDefinitionError(f"DAG {self.dag_id} has no tasks", self.location)
        data: dict[str, Any] = dict(self._fields)
        if self._defaults:
            data["defaults"] = self._defaults
        data["tasks"] = [task.spec_fields() for task in self.tasks]
        try:
            return DAGSpec.model_validate(data)
        except ValidationError as exc:
            messages = validation_messages(exc, "")
            raise DAGDefinitionError(f"DAG {self.dag_id}: {messages}", self.location) from None

    def to_resource(self) -> dict[str, Any]:
        """The DAG resource, as ``kubectl apply`` takes it: only the fields that were set."""
        spec = self.to_spec().model_dump(
            mode="json", by_alias=True, exclude_none=True, exclude_unset=True
        )
        spec["tasks"] = [_readable(task) for task in spec["tasks"]]
        metadata: dict[str, Any] = {"name": self.dag_id}
        if self.labels:
            metadata["labels"] = dict(self.labels)
        if self.annotations:
            metadata["annotations"] = dict(self.annotations)
        return {"apiVersion": API_VERSION, "kind": DAG_KIND, "metadata": metadata, "spec": spec}

    def task_locations(self) -> dict[str, Location]:
        """Where each task was defined."""
        return {t.task_id: t.location for t in self.tasks if t.location}

    def edge_locations(self) -> dict[tuple[str, str], tuple[int, Location]]:
        """Where each dependency (upstream, downstream) was set, with its order of setting."""
        found: dict[tuple[str, str], tuple[int, Location]] = {}
        for task in self.tasks:
            for upstream, (number, location) in task.upstream_edges().items():
                if location is not None:
                    found[(upstream.task_id, task.task_id)] = (number, location)
        return found


_FIRST_TASK_FIELDS = ("name", "image", "command", "args")


def _readable(task: dict[str, Any]) -> dict[str, Any]:
    """A task's fields with what it is and runs first (the models' order after that)."""
    first = {key: task[key] for key in _FIRST_TASK_FIELDS if key in task}
    return {**first, **{k: v for k, v in task.items() if k not in first}}


@overload
def dag(dag_id: Callable[..., Any], /) -> Callable[..., DAG]: ...


@overload
def dag(
    dag_id: str | None = None, /, **kwargs: Any
) -> Callable[[Callable[..., Any]], Callable[..., DAG]]: ...


def dag(dag_id: Any = None, /, **kwargs: Any) -> Any:
    """Airflow's ``@dag``: calling the decorated function creates the DAG (named after the
    function, ``_`` read as ``-``, unless ``dag_id`` is given) and runs the function in it.
    ``kwargs`` are :class:`DAG`'s arguments. ::

        @dag(schedule="@daily")
        def nightly_report():
            Task("report", image="busybox", command=["echo", "hi"])

        nightly_report()
    """

    def decorate(function: Callable[..., Any]) -> Callable[..., DAG]:
        name = dag_id if isinstance(dag_id, str) else function.__name__.replace("_", "-")

        def make(*args: Any, **call_kwargs: Any) -> DAG:
            with DAG(name, **kwargs) as made:
                function(*args, **call_kwargs)
            return made

        make.__name__ = function.__name__
        make.__doc__ = function.__doc__
        return make

    if callable(dag_id):
        return decorate(dag_id)
    return decorate
