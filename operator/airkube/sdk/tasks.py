"""``Task``: one container run in a pod for each try, and the dependencies between tasks
(``a >> b``, ``[a, b] >> c``, ``chain(...)``, ``cross_downstream(...)``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from pydantic import ValidationError

from airkube.api.dag import Task as TaskModel
from airkube.api.dag import TriggerRule
from airkube.sdk.dag import DAG, owning_dag
from airkube.sdk.errors import DAGDefinitionError
from airkube.sdk.locations import Location, caller_location
from airkube.sdk.settings import task_fields, validation_messages

if TYPE_CHECKING:
    from airkube.sdk.groups import TaskGroup

DependencyTarget: TypeAlias = "Node | Sequence[Node]"
"""What ``>>``, ``<<``, ``set_upstream`` and ``set_downstream`` take."""
Target = TypeVar("Target", bound="Node | Sequence[Node]")


def _nodes(value: object, operation: str) -> list[Node]:
    if isinstance(value, Node):
        return [value]
    if isinstance(value, Sequence | set | frozenset) and not isinstance(value, str):
        items = list(value)
        if all(isinstance(item, Node) for item in items):
            return items
        value = next(item for item in items if not isinstance(item, Node))
    hint = ""
    if callable(value) and hasattr(value, "function"):
        hint = ": a @task function makes a task when it is called, as in extract()"
    raise DAGDefinitionError(f"{operation}: {value!r} is not a task or a task group{hint}")


class Node:
    """A task or a task group: what dependencies are set between."""

    dag: DAG

    def roots(self) -> list[Task]:
        """The tasks a dependency on this node starts at."""
        raise NotImplementedError

    def leaves(self) -> list[Task]:
        """The tasks a dependency from this node starts from."""
        raise NotImplementedError

    def set_downstream(self, other: DependencyTarget) -> None:
        """``other`` runs after this."""
        _connect([self], _nodes(other, "set_downstream"), caller_location())

    def set_upstream(self, other: DependencyTarget) -> None:
        """This runs after ``other``."""
        _connect(_nodes(other, "set_upstream"), [self], caller_location())

    def __rshift__(self, other: Target) -> Target:
        _connect([self], _nodes(other, ">>"), caller_location())
        return other

    def __lshift__(self, other: Target) -> Target:
        _connect(_nodes(other, "<<"), [self], caller_location())
        return other

    def __rrshift__(self, other: Sequence[Node]) -> Node:
        """``[a, b] >> self``."""
        _connect(_nodes(other, ">>"), [self], caller_location())
        return self

    def __rlshift__(self, other: Sequence[Node]) -> Node:
        """``[a, b] << self``."""
        _connect([self], _nodes(other, "<<"), caller_location())
        return self


def _connect(upstream: Sequence[Node], downstream: Sequence[Node], where: Location | None) -> None:
    for down in downstream:
        for up in upstream:
            leaves, roots = up.leaves(), down.roots()
            for node, tasks in ((up, leaves), (down, roots)):
                if not tasks:
                    raise DAGDefinitionError(
                        f"{node!r} has no tasks yet: set its dependencies after its tasks "
                        "are defined"
                    )
            for root in roots:
                for leaf in leaves:
                    root.add_upstream(leaf, where)


def chain(*items: Node | Sequence[Node]) -> None:
    """Airflow's ``chain``: each item runs after the one before it. Two lists next to each
    other are paired element by element (they must be the same length); a list next to a
    single task or group is connected to each of its elements.
    ``chain(a, [b, c], [d, e], f)`` is ``a >> [b, c]; b >> d; c >> e; [d, e] >> f``."""
    where = caller_location()
    for up, down in pairwise(items):
        up_is_list = not isinstance(up, Node)
        down_is_list = not isinstance(down, Node)
        ups, downs = _nodes(up, "chain"), _nodes(down, "chain")
        if up_is_list and down_is_list:
            if len(ups) != len(downs):
                raise DAGDefinitionError(
                    f"chain: lists of {len(ups)} and {len(downs)} items cannot be paired: "
                    "two lists next to each other must be the same length"
                )
            for one, other in zip(ups, downs, strict=True):
                _connect([one], [other], where)
        else:
            _connect(ups, downs, where)


def cross_downstream(from_tasks: Sequence[Node], to_tasks: Sequence[Node]) -> None:
    """Every one of ``to_tasks`` runs after every one of ``from_tasks``."""
    _connect(
        _nodes(from_tasks, "cross_downstream"),
        _nodes(to_tasks, "cross_downstream"),
        caller_location(),
    )


class TaskOutput(str):
    """What a task wrote to /dev/termination-log (Airflow's XCom), as the template
    ``{{ tasks.<name>.output }}``: use it in ``command``, ``args`` or ``env`` of a later
    task, which then depends on this one."""

    task: Task

    def __new__(cls, task: Task) -> TaskOutput:
        name = task.task_id
        reference = f"tasks.{name}" if name.isidentifier() else f"tasks[{name!r}]"
        text = super().__new__(cls, "{{ " + reference + ".output }}")
        text.task = task
        return text


def _outputs(value: Any) -> Iterator[TaskOutput]:
    if isinstance(value, TaskOutput):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _outputs(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _outputs(item)
    elif hasattr(value, "value"):  # an EnvVar model
        yield from _outputs(value.value)


def _plain(value: Any) -> Any:
    """``value`` with each TaskOutput as a plain string (the models want exact types)."""
    if isinstance(value, TaskOutput):
        return str(value)
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


class Task(Node):
    """A task: one container, run in a pod of its own for each try.

    Made inside ``with DAG(...)`` (or given ``dag=``); inside ``with TaskGroup(...)`` its
    name gets the group's prefix. Settings it does not set come from the group's and the
    DAG's ``default_args``.

    - ``command``, ``args``: lists of strings; templates (``{{ ds }}``) are rendered when
      a try starts. ``other.output`` in them reads another task's output and makes this
      task depend on it.
    - ``env``: ``{"NAME": "value"}`` (a dict value is a ``valueFrom``), or a list of
      ``{"name", "value"}``.
    - ``retry_delay``, ``max_retry_delay``, ``execution_timeout``, ``pending_timeout``:
      ``timedelta`` (or seconds, or "5m").
    - ``trigger_rule``: Airflow's names, "all_success" (default), "all_done",
      "one_failed"… or ``TriggerRule.ALL_DONE``.
    - ``pod_template``: a partial Pod (``{"spec": {"nodeSelector": {...}}}``);
      ``annotations`` and ``labels`` are shorthands for its metadata.
    """

    def __init__(
        self,
        task_id: str,
        *,
        image: str | None = None,
        command: Sequence[str] | None = None,
        args: Sequence[str] | None = None,
        env: Mapping[str, Any] | Sequence[Any] | None = None,
        env_from: Sequence[Any] | None = None,
        resources: Mapping[str, Any] | None = None,
        volume_mounts: Sequence[Any] | None = None,
        image_pull_policy: str | None = None,
        retries: int | None = None,
        retry_delay: timedelta | float | str | None = None,
        retry_exponential_backoff: bool | None = None,
        max_retry_delay: timedelta | float | str | None = None,
        execution_timeout: timedelta | float | str | None = None,
        pending_timeout: timedelta | float | str | None = None,
        skip_on_exit_code: Sequence[int] | None = None,
        pod_template: Mapping[str, Any] | None = None,
        annotations: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        trigger_rule: TriggerRule | str | None = None,
        dag: DAG | None = None,
    ) -> None:
        self.location = caller_location()
        owner = owning_dag(dag, f'task "{task_id}"')
        if not isinstance(task_id, str):
            raise DAGDefinitionError(f"task id {task_id!r} must be a string")
        self.dag = owner
        self.group: TaskGroup | None = owner.current_group()
        self.task_id = owner.child_name(task_id)
        settings: dict[str, Any] = {
            "image": image,
            "image_pull_policy": image_pull_policy,
            "env": env,
            "env_from": env_from,
            "resources": resources,
            "volume_mounts": volume_mounts,
            "retries": retries,
            "retry_delay": retry_delay,
            "retry_exponential_backoff": retry_exponential_backoff,
            "max_retry_delay": max_retry_delay,
            "execution_timeout": execution_timeout,
            "pending_timeout": pending_timeout,
            "skip_on_exit_code": skip_on_exit_code,
            "pod_template": pod_template,
            "annotations": annotations,
            "labels": labels,
            "trigger_rule": trigger_rule,
        }
        for key, value in (self.group.default_args if self.group else {}).items():
            if settings.get(key) is None:
                settings[key] = value
        if settings["trigger_rule"] is None:
            settings["trigger_rule"] = owner.default_trigger_rule
        fields = task_fields(settings)
        if command is not None:
            fields["command"] = list(command)
        if args is not None:
            fields["args"] = list(args)
        self._upstream: dict[Task, tuple[int, Location | None]] = {}
        self._downstream: list[Task] = []
        self.output_is_json = False
        """Whether the output is JSON (a @task function's return value)."""
        try:
            TaskModel.model_validate({"name": self.task_id, **_plain(fields)})
        except ValidationError as exc:
            raise DAGDefinitionError(validation_messages(exc, f'task "{self.task_id}": ')) from None
        self._fields = fields
        self._index = owner.add_task(self)
        for output in _outputs([fields.get("command"), fields.get("args"), fields.get("env")]):
            self.add_upstream(output.task, self.location)

    def __repr__(self) -> str:
        return f"<Task {self.task_id}>"

    @property
    def name(self) -> str:
        """The task's name in the resource (its id after its groups' prefixes)."""
        return self.task_id

    @property
    def output(self) -> TaskOutput:
        """This task's output, as a template for later tasks' command, args or env."""
        return TaskOutput(self)

    @property
    def upstream_list(self) -> list[Task]:
        return sorted(self._upstream, key=lambda t: t._index)

    @property
    def downstream_list(self) -> list[Task]:
        return sorted(self._downstream, key=lambda t: t._index)

    @property
    def upstream_task_ids(self) -> set[str]:
        return {t.task_id for t in self._upstream}

    @property
    def downstream_task_ids(self) -> set[str]:
        return {t.task_id for t in self._downstream}

    def roots(self) -> list[Task]:
        return [self]

    def leaves(self) -> list[Task]:
        return [self]

    def add_upstream(self, upstream: Task, where: Location | None) -> None:
        """Make this task run after ``upstream`` (set at ``where``)."""
        if upstream.dag is not self.dag:
            raise DAGDefinitionError(
                f'task "{self.task_id}" of DAG {self.dag.dag_id} cannot depend on task '
                f'"{upstream.task_id}" of DAG {upstream.dag.dag_id}'
            )
        if upstream is self:
            raise DAGDefinitionError(f'task "{self.task_id}" cannot depend on itself')
        if upstream not in self._upstream:
            self._upstream[upstream] = (self.dag.next_edge_number(), where)
            upstream._downstream.append(self)

    def upstream_edges(self) -> Mapping[Task, tuple[int, Location | None]]:
        """This task's upstream tasks, each with when (a sequence number) and where the
        dependency was set."""
        return dict(self._upstream)

    def spec_fields(self) -> dict[str, Any]:
        """The resource's task (snake_case field names), dependencies in task order."""
        fields = {"name": self.task_id, **_plain(self._fields)}
        if self._upstream:
            fields["depends_on"] = [t.task_id for t in self.upstream_list]
        return fields
