"""The ``DAGRun`` resource: one run of a DAG (spec) and the state of it and of each of its
task instances (status)."""

from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import AwareDatetime, Field, StrictBool, model_validator

from airkube.api.base import ApiModel, StatusModel
from airkube.api.dates import DATE_RANGE, DateTimeInRange
from airkube.api.meta import Condition, ObjectMeta
from airkube.api.states import RunState, TaskState

OUTPUT_MAX_BYTES = 4096
"""A task's output is its container's termination message, which Kubernetes caps at 4 KiB."""


class RunType(StrEnum):
    """How the run came about (Airflow's run types)."""

    SCHEDULED = "scheduled"
    MANUAL = "manual"
    BACKFILL = "backfill"


class DagRef(ApiModel):
    """The DAG a run belongs to, in the run's namespace."""

    name: str = Field(description="The DAG's name.", min_length=1, max_length=253)


class ClearRequest(ApiModel):
    """A request to run tasks of the run again, as Airflow's "clear" does.

    The cleared tasks go back to None and run again as new tries, with their full retries;
    a finished run becomes Running again. The operator applies each request once: a new
    ``id`` asks for a new clear (``kubectl airkube clear`` writes one for you).
    """

    id: str = Field(
        description="Any value not used before for this run; the operator applies each id once.",
        min_length=1,
        max_length=63,
    )
    tasks: list[str] | None = Field(
        default=None,
        description="The tasks to clear, by name. Default: every task of the run.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    downstream: StrictBool = Field(
        default=False, description="Also clear every task downstream of the selected ones."
    )
    only_failed: StrictBool = Field(
        default=False,
        description=(
            "Clear only tasks that are Failed or UpstreamFailed (of those selected, downstream "
            "ones included)."
        ),
    )


class MarkState(StrEnum):
    """The state a mark request sets (Airflow's "Mark Success" / "Mark Failed")."""

    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class MarkRequest(ApiModel):
    """A request to set the state of tasks, or of the run as a whole, by hand, as Airflow's
    "Mark Success" / "Mark Failed" do.

    With ``tasks``: those tasks (and their upstream or downstream tasks if asked) take
    ``state``; a running one has its pod stopped; the Failed and UpstreamFailed tasks
    downstream of the named ones are cleared, and every task downstream then proceeds by
    its trigger rule (a finished run reopens when some must run again). Without ``tasks``:
    the run as a whole. Succeeded marks every task Succeeded; Failed marks the running
    tasks Failed and the other unfinished ones Skipped; the run ends in ``state``. The
    operator applies each request once: a new ``id`` asks for a new mark (``kubectl
    airkube mark`` writes one for you).
    """

    id: str = Field(
        description="Any value not used before for this run; the operator applies each id once.",
        min_length=1,
        max_length=63,
    )
    state: MarkState = Field(description="Succeeded or Failed.")
    tasks: list[str] | None = Field(
        default=None,
        description="The tasks to mark, by name. Default: the run as a whole.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
        min_length=1,
    )
    upstream: StrictBool = Field(
        default=False,
        description="Also mark every task upstream of the named ones (needs tasks).",
    )
    downstream: StrictBool = Field(
        default=False,
        description="Also mark every task downstream of the named ones (needs tasks).",
    )


class DAGRunSpec(ApiModel):
    """One run of a DAG: which DAG, for which logical date and data interval, with which params."""

    dag_ref: DagRef = Field(description="The DAG to run, in the same namespace.")
    run_type: RunType = Field(
        default=RunType.MANUAL,
        description="scheduled (made by the schedule), manual or backfill. Default: manual.",
    )
    logical_date: DateTimeInRange | None = Field(
        default=None,
        description=(
            "The run's logical date (Airflow's logical_date, {{ ds }} in templates): the start "
            "of its data interval for scheduled runs. Default: when the run was created."
            f" Dates are {DATE_RANGE}."
        ),
    )
    data_interval_start: DateTimeInRange | None = Field(
        default=None, description="The start of the data interval the run processes."
    )
    data_interval_end: DateTimeInRange | None = Field(
        default=None, description="The end of the data interval the run processes."
    )
    params: dict[str, Any] | None = Field(
        default=None, description="Values overriding the DAG's params for this run."
    )
    cancel: StrictBool = Field(
        default=False,
        description=(
            "Set to true to cancel the run: its pods are stopped, its unfinished tasks are "
            "Skipped and the run ends Cancelled."
        ),
    )

    clear: ClearRequest | None = Field(
        default=None,
        description=(
            "Run tasks again (Airflow's clear): the operator applies a request with a new id "
            "once, and records it in status.lastClearId."
        ),
    )
    mark: MarkRequest | None = Field(
        default=None,
        description=(
            "Set tasks, or the run, Succeeded or Failed by hand (Airflow's mark success / "
            "mark failed): the operator applies a request with a new id once (after a clear "
            "asked for at the same time), and records it in status.lastMarkId."
        ),
    )

    @model_validator(mode="after")
    def _check_interval(self) -> Self:
        start, end = self.data_interval_start, self.data_interval_end
        if (start is None) != (end is None):
            raise ValueError("set both dataIntervalStart and dataIntervalEnd, or neither")
        if start is not None and end is not None and end < start:
            raise ValueError("dataIntervalEnd is before dataIntervalStart")
        return self


class TaskStatus(StatusModel):
    """The state of one task instance of the run (its current try)."""

    state: TaskState = Field(
        default=TaskState.NONE,
        description=(
            "None (not yet considered), Scheduled (may run, waiting for a slot), Queued (pod "
            "created), Running, Succeeded, Failed, UpForRetry (a try failed; another follows "
            "after the retry delay), UpstreamFailed or Skipped."
        ),
    )
    try_number: int = Field(
        default=0, ge=0, description="The current try, from 1; 0 before the first try."
    )
    pod_name: str | None = Field(default=None, description="The pod of the current try.")
    queued_time: AwareDatetime | None = Field(
        default=None, description="When the current try's pod was created."
    )
    start_time: AwareDatetime | None = Field(
        default=None, description="When the current try's pod started."
    )
    end_time: AwareDatetime | None = Field(
        default=None, description="When the current try (or the task) ended."
    )
    next_retry_time: AwareDatetime | None = Field(
        default=None, description="When UpForRetry: when the next try may start."
    )
    max_tries: int | None = Field(
        default=None,
        ge=1,
        description=(
            "The last try number this task may reach, once it was cleared: the try it had "
            "reached plus retries + 1 (Airflow's max_tries). Unset: retries + 1."
        ),
    )
    exit_code: int | None = Field(default=None, description="The exit code of the current try.")
    reason: str | None = Field(
        default=None,
        description=(
            "Why the try ended as it did, in one CamelCase word: Error, Timeout, OOMKilled, "
            "Evicted, PodLost, Deleted, PendingTimeout, SkipExitCode, UpstreamFailed, "
            "RunCancelled, "
            "RunTimeout…; while Queued, why its pod has not started yet: Unschedulable, "
            "ImagePullBackOff, CreateContainerConfigError…"
        ),
    )
    message: str | None = Field(
        default=None,
        description=(
            "Details, such as the end of the log of a failed try, or what its pod waits for."
        ),
    )
    output: str | None = Field(
        default=None,
        description=(
            "What the task wrote to /dev/termination-log (at most 4 KiB), read by downstream "
            "templates as {{ tasks.<name>.output }}."
        ),
    )


class EndedTry(TaskStatus):
    """A try that ended and was replaced (by the task's next try, or a clear) before the
    metadata database recorded it: kept in the status until it has."""

    task: str = Field(description="The task the try belongs to.")


class TaskCounts(StatusModel):
    """How many of the run's tasks are in each state."""

    total: int = Field(default=0, ge=0, description="All tasks.")
    none: int = Field(default=0, ge=0, description="Tasks not yet considered.")
    scheduled: int = Field(default=0, ge=0, description="Tasks waiting for a slot.")
    queued: int = Field(default=0, ge=0, description="Tasks whose pod was created.")
    running: int = Field(default=0, ge=0, description="Tasks running.")
    succeeded: int = Field(default=0, ge=0, description="Tasks that succeeded.")
    failed: int = Field(default=0, ge=0, description="Tasks that failed.")
    up_for_retry: int = Field(default=0, ge=0, description="Tasks waiting to be retried.")
    upstream_failed: int = Field(
        default=0, ge=0, description="Tasks not run because upstream tasks failed."
    )
    skipped: int = Field(default=0, ge=0, description="Tasks skipped.")


class DAGRunStatus(StatusModel):
    """What the operator observed about the run."""

    observed_generation: int | None = Field(
        default=None, description="The metadata.generation this status describes."
    )
    state: RunState = Field(
        default=RunState.QUEUED,
        description="Queued, Running, Succeeded, Failed or Cancelled.",
    )
    reason: str | None = Field(
        default=None,
        description=(
            "Why the run ended as it did, in one CamelCase word: TasksSucceeded, TaskFailed, "
            "RunTimeout, Cancelled…"
        ),
    )
    message: str | None = Field(default=None, description="Details for people.")
    dag_version: str | None = Field(
        default=None,
        description="The hash of the DAG spec the run follows, pinned when it started.",
    )
    start_time: AwareDatetime | None = Field(default=None, description="When the run started.")
    end_time: AwareDatetime | None = Field(default=None, description="When the run ended.")
    duration: str | None = Field(
        default=None, description='How long the run took, such as "1h2m3s", once it ended.'
    )
    progress: str | None = Field(
        default=None, description='Finished tasks out of all tasks, such as "7/10".'
    )
    counts: TaskCounts | None = Field(default=None, description="How many tasks are in each state.")
    tasks: dict[str, TaskStatus] | None = Field(
        default=None,
        description=(
            "The state of each task, by name. In a very large run only the running and failed "
            "tasks are listed (see tasksOmitted); the metadata database has them all."
        ),
    )
    tasks_omitted: int | None = Field(
        default=None,
        ge=0,
        description="How many tasks are left out of tasks to keep the status small.",
    )
    ended_tries: list[EndedTry] | None = Field(
        default=None,
        description=(
            "Tries that ended and were replaced by a newer try (a retry due at once, a clear) "
            "before the metadata database recorded them; emptied once it has."
        ),
    )
    last_clear_id: str | None = Field(
        default=None, description="The id of the last clear request (spec.clear) applied."
    )
    clear_number: int | None = Field(
        default=None,
        ge=0,
        description=(
            "How many clear requests (and mark requests that cleared tasks downstream) have "
            "cleared tasks of the run."
        ),
    )
    last_mark_id: str | None = Field(
        default=None, description="The id of the last mark request (spec.mark) applied."
    )
    conditions: list[Condition] | None = Field(
        default=None,
        description="Conditions of the run.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )


class DAGRun(StatusModel):
    """The DAGRun resource as read from the API server."""

    api_version: Literal["airkube.io/v1alpha1"] = "airkube.io/v1alpha1"
    kind: Literal["DAGRun"] = "DAGRun"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: DAGRunSpec
    status: DAGRunStatus | None = None
