"""The states of runs and task instances (Kubernetes style: CamelCase values)."""

from enum import StrEnum


class RunState(StrEnum):
    """The state of a DAG run."""

    QUEUED = "Queued"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"

    @property
    def finished(self) -> bool:
        return self in _FINISHED_RUN_STATES


_FINISHED_RUN_STATES = frozenset({RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED})


class TaskState(StrEnum):
    """The state of a task instance within a run (Airflow's, CamelCase).

    ``NONE`` is Airflow's "no status": the task has not been considered yet. Its value is
    the string "None" so that it can be written in a resource like any other state.
    """

    NONE = "None"
    SCHEDULED = "Scheduled"
    QUEUED = "Queued"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    UP_FOR_RETRY = "UpForRetry"
    UPSTREAM_FAILED = "UpstreamFailed"
    SKIPPED = "Skipped"

    @property
    def finished(self) -> bool:
        """Whether the task instance is done for this run (it will not change by itself)."""
        return self in FINISHED_TASK_STATES

    @property
    def finished_try(self) -> bool:
        """Whether the try this state belongs to is over (the task may go on with another)."""
        return self in FINISHED_TASK_STATES or self is TaskState.UP_FOR_RETRY

    @property
    def has_pod(self) -> bool:
        """Whether a pod of the current try is expected to exist (created, not yet ended)."""
        return self in (TaskState.QUEUED, TaskState.RUNNING)


FINISHED_TASK_STATES = frozenset(
    {TaskState.SUCCEEDED, TaskState.FAILED, TaskState.UPSTREAM_FAILED, TaskState.SKIPPED}
)
"""Airflow's finished states: what trigger rules count as "done"."""

FAILED_TASK_STATES = frozenset({TaskState.FAILED, TaskState.UPSTREAM_FAILED})
"""A leaf task in one of these makes the run fail."""

SUCCESS_TASK_STATES = frozenset({TaskState.SUCCEEDED, TaskState.SKIPPED})
"""A run succeeds when every leaf task ends in one of these."""
