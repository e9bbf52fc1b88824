"""Resource API: pydantic models of the DAG and DAGRun spec and status, and CRD schema
generation.

Modules:

- ``base``: the model base classes (camelCase aliases, frozen, spec models forbid unknown keys).
- ``meta``: group/version constants, object metadata and status conditions.
- ``states``: the run and task state names.
- ``duration``: Go-style durations ("30s", "1h30m") as ``timedelta``.
- ``names``: which names are valid for tasks, params and labels.
- ``schedule``: schedule (cron or preset) and timezone checks.
- ``container``: env, envFrom, resources, volume mounts and the partial pod template.
- ``dag``: the ``DAG`` resource; ``dagrun``: the ``DAGRun`` resource.
- ``errors``: pydantic validation errors as one message per problem.
- ``crdgen``: the CRDs, generated from the models (``python -m airkube.api.crdgen crds``).
"""

from airkube.api.dag import (
    DAG,
    DAGSpec,
    DAGStatus,
    LastRun,
    LastScheduledRun,
    Task,
    TaskDefaults,
    Timetable,
    TriggerRule,
)
from airkube.api.dagrun import (
    DagRef,
    DAGRun,
    DAGRunSpec,
    DAGRunStatus,
    EndedTry,
    RunType,
    TaskCounts,
    TaskStatus,
)
from airkube.api.meta import API_VERSION, GROUP, VERSION, Condition, ConditionStatus, ObjectMeta
from airkube.api.states import RunState, TaskState

__all__ = [
    "API_VERSION",
    "DAG",
    "GROUP",
    "VERSION",
    "Condition",
    "ConditionStatus",
    "DAGRun",
    "DAGRunSpec",
    "DAGRunStatus",
    "DAGSpec",
    "DAGStatus",
    "DagRef",
    "EndedTry",
    "LastRun",
    "LastScheduledRun",
    "ObjectMeta",
    "RunState",
    "RunType",
    "Task",
    "TaskCounts",
    "TaskDefaults",
    "TaskState",
    "TaskStatus",
    "Timetable",
    "TriggerRule",
]
