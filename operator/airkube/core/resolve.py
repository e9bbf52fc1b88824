"""A task with the DAG's defaults applied: every setting decided, ready for templating
(issue 5 renders command, args and env of a ``ResolvedTask``) and for pod building.

Precedence: the task's value, else the DAG defaults', else airkube's default. ``env``,
``envFrom`` and ``volumeMounts`` are merged by key (see :mod:`airkube.core.merge`);
``podTemplate`` is merged deeply; ``resources`` is taken as a whole.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from airkube.api.container import (
    EnvFromSource,
    EnvVar,
    PullPolicy,
    ResourceRequirements,
    VolumeMount,
)
from airkube.api.dag import DAGSpec, Task, TaskDefaults, TriggerRule
from airkube.core.merge import deep_merge, list_key, merge_keyed

DEFAULT_RETRY_DELAY = timedelta(minutes=5)
"""Airflow's default retry_delay."""
DEFAULT_MAX_RETRY_DELAY = timedelta(hours=24)
"""Airflow's [core] max_task_retry_delay."""
DEFAULT_PENDING_TIMEOUT = timedelta(minutes=5)
"""Airflow's [kubernetes_executor] worker_pods_pending_timeout."""
DEFAULT_SKIP_EXIT_CODES = frozenset({99})
"""Airflow's BashOperator skips the task when its command exits with 99."""


@dataclass(frozen=True, kw_only=True)
class ResolvedTask:
    """Everything about one task of a DAG, defaults applied."""

    name: str
    image: str
    image_pull_policy: PullPolicy | None = None
    command: tuple[str, ...] | None = None
    args: tuple[str, ...] | None = None
    env: tuple[EnvVar, ...] = ()
    env_from: tuple[EnvFromSource, ...] = ()
    resources: ResourceRequirements | None = None
    volume_mounts: tuple[VolumeMount, ...] = ()
    depends_on: tuple[str, ...] = ()
    trigger_rule: TriggerRule = TriggerRule.ALL_SUCCESS
    retries: int = 0
    retry_delay: timedelta = DEFAULT_RETRY_DELAY
    retry_exponential_backoff: bool = False
    max_retry_delay: timedelta = DEFAULT_MAX_RETRY_DELAY
    execution_timeout: timedelta | None = None
    pending_timeout: timedelta = DEFAULT_PENDING_TIMEOUT
    skip_on_exit_code: frozenset[int] = DEFAULT_SKIP_EXIT_CODES
    pod_template: dict[str, Any] = field(default_factory=dict)
    """The merged podTemplate, JSON-ready: ``{"metadata": {...}, "spec": {...}}``."""

    @property
    def max_tries(self) -> int:
        return self.retries + 1


T = TypeVar("T")
M = TypeVar("M", EnvVar, EnvFromSource, VolumeMount)


class MissingImageError(ValueError):
    """The task has no image and the DAG defaults none (see validate_dag)."""


def _pick(task_value: T | None, default_value: T | None, fallback: T) -> T:
    if task_value is not None:
        return task_value
    if default_value is not None:
        return default_value
    return fallback


def _merge_models(base: list[M] | None, override: list[M] | None, field_name: str) -> tuple[M, ...]:
    if not base:
        return tuple(override or ())
    if not override:
        return tuple(base)
    key = list_key(field_name)
    by_key = {key(item.to_dict()): item for item in list(base) + list(override)}
    merged = merge_keyed(
        [item.to_dict() for item in base], [item.to_dict() for item in override], key
    )
    return tuple(by_key[key(entry)] for entry in merged)


def resolve_task(spec: DAGSpec, task: Task) -> ResolvedTask:
    """``task`` of ``spec`` with the DAG defaults applied."""
    defaults = spec.defaults or TaskDefaults()
    image = task.image or defaults.image
    if not image:
        raise MissingImageError(
            f'task "{task.name}" has no image: set image on the task or in the DAG defaults'
        )
    template = deep_merge(
        defaults.pod_template.to_dict() if defaults.pod_template else {},
        task.pod_template.to_dict() if task.pod_template else {},
    )
    skip_codes = _pick(task.skip_on_exit_code, defaults.skip_on_exit_code, None)
    return ResolvedTask(
        name=task.name,
        image=image,
        image_pull_policy=_pick(task.image_pull_policy, defaults.image_pull_policy, None),
        command=tuple(task.command) if task.command is not None else None,
        args=tuple(task.args) if task.args is not None else None,
        env=_merge_models(defaults.env, task.env, "env"),
        env_from=_merge_models(defaults.env_from, task.env_from, "envFrom"),
        resources=_pick(task.resources, defaults.resources, None),
        volume_mounts=_merge_models(defaults.volume_mounts, task.volume_mounts, "volumeMounts"),
        depends_on=tuple(dict.fromkeys(task.depends_on or ())),
        trigger_rule=task.trigger_rule,
        retries=_pick(task.retries, defaults.retries, 0),
        retry_delay=_pick(task.retry_delay, defaults.retry_delay, DEFAULT_RETRY_DELAY),
        retry_exponential_backoff=_pick(
            task.retry_exponential_backoff, defaults.retry_exponential_backoff, False
        ),
        max_retry_delay=_pick(
            task.max_retry_delay, defaults.max_retry_delay, DEFAULT_MAX_RETRY_DELAY
        ),
        execution_timeout=_pick(task.execution_timeout, defaults.execution_timeout, None),
        pending_timeout=_pick(
            task.pending_timeout, defaults.pending_timeout, DEFAULT_PENDING_TIMEOUT
        ),
        skip_on_exit_code=(
            frozenset(skip_codes) if skip_codes is not None else DEFAULT_SKIP_EXIT_CODES
        ),
        pod_template=template,
    )


def resolve_tasks(spec: DAGSpec) -> Iterator[ResolvedTask]:
    """Every task of ``spec``, resolved, in the spec's order."""
    for task in spec.tasks:
        yield resolve_task(spec, task)
