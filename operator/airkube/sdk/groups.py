"""``TaskGroup``: tasks grouped under a name prefix, with dependencies set on the group as
a whole, as Airflow's task groups (``group.task`` there, ``group-task`` here: a task name
becomes part of pod names, which allow no dots)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from airkube.sdk.dag import DAG, owning_dag
from airkube.sdk.errors import DAGDefinitionError
from airkube.sdk.locations import caller_location
from airkube.sdk.settings import DEFAULT_ARGS, check_keys, defaults_fields
from airkube.sdk.tasks import Node, Task

_GROUP_ID = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class TaskGroup(Node):
    """A group of tasks: ``with TaskGroup("transform"):`` names the tasks made in the block
    ``transform-<id>`` (``prefix_group_id=False``: no prefix), gives them the group's
    ``default_args`` (over the DAG's), and lets the group stand for them in dependencies:
    ``extract >> group`` makes the group's first tasks (those without an upstream task in
    the group) run after extract, ``group >> load`` makes load run after its last tasks.
    As in Airflow, those are the group's tasks at the time the dependency is set."""

    def __init__(
        self,
        group_id: str,
        *,
        prefix_group_id: bool = True,
        default_args: Mapping[str, Any] | None = None,
        dag: DAG | None = None,
    ) -> None:
        self.location = caller_location()
        owner = owning_dag(dag, f'task group "{group_id}"')
        if not isinstance(group_id, str) or not _GROUP_ID.fullmatch(group_id):
            raise DAGDefinitionError(
                f"task group id {group_id!r} must be lowercase letters, digits and '-', "
                "starting and ending with a letter or digit (it prefixes task names)"
            )
        self.dag = owner
        self.parent = owner.current_group()
        self.group_id = self.parent.child_id(group_id) if self.parent else group_id
        self.prefix_group_id = prefix_group_id
        if self.group_id in owner.task_groups:
            raise DAGDefinitionError(
                f'DAG {owner.dag_id}: task group "{self.group_id}" is defined twice'
            )
        args = dict(default_args or {})
        what = f'task group "{self.group_id}": default_args'
        check_keys(what, args, DEFAULT_ARGS)
        defaults_fields(args, what)  # checked here, applied by each task
        self.default_args: dict[str, Any] = {
            **(self.parent.default_args if self.parent else {}),
            **args,
        }
        owner.task_groups[self.group_id] = self

    def __repr__(self) -> str:
        return f"<TaskGroup {self.group_id}>"

    def __enter__(self) -> TaskGroup:
        self.dag._group_stack.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self in self.dag._group_stack:
            self.dag._group_stack.remove(self)

    def child_id(self, task_id: str) -> str:
        """The name of a task (or group) with id ``task_id`` made in this group."""
        return f"{self.group_id}-{task_id}" if self.prefix_group_id else task_id

    @property
    def tasks(self) -> list[Task]:
        """The tasks of the group and of the groups in it, in the order they were made."""
        return [t for t in self.dag.tasks if self._contains(t)]

    def _contains(self, task: Task) -> bool:
        group = task.group
        while group is not None:
            if group is self:
                return True
            group = group.parent
        return False

    def roots(self) -> list[Task]:
        members = self.tasks
        inside = set(members)
        return [t for t in members if not inside.intersection(t.upstream_list)]

    def leaves(self) -> list[Task]:
        members = self.tasks
        inside = set(members)
        return [t for t in members if not inside.intersection(t.downstream_list)]
