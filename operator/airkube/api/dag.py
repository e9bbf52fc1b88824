"""The ``DAG`` resource: a DAG's schedule, run settings and tasks (spec), and what the
operator observed about it (status)."""

from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    Field,
    StrictBool,
    StrictInt,
    model_validator,
)

from airkube.api.base import ApiModel, StatusModel
from airkube.api.callbacks import Callbacks, RunDeadline
from airkube.api.container import (
    EnvFromSource,
    EnvVar,
    PodTemplate,
    PullPolicy,
    ResourceRequirements,
    VolumeMount,
)
from airkube.api.dates import DATE_RANGE, LocalDateTime
from airkube.api.duration import Duration, PositiveDuration
from airkube.api.meta import Condition, ObjectMeta
from airkube.api.names import (
    DNS1123_LABEL_PATTERN,
    TASK_NAME_MAX_LENGTH,
    check_task_name,
    param_name_problem,
)
from airkube.api.schedule import SCHEDULE_PATTERN, check_schedule, check_timezone
from airkube.api.states import RunState

MAX_TASKS = 10_000


def _check_param_names(params: dict[str, Any]) -> dict[str, Any]:
    problems = [p for p in map(param_name_problem, params) if p]
    if problems:
        raise ValueError("; ".join(problems))
    return params


class TriggerRule(StrEnum):
    """Airflow's trigger rules: when a task runs, given the states of its upstream tasks."""

    ALL_SUCCESS = "all_success"
    ALL_FAILED = "all_failed"
    ALL_DONE = "all_done"
    ALL_SKIPPED = "all_skipped"
    ONE_SUCCESS = "one_success"
    ONE_FAILED = "one_failed"
    ONE_DONE = "one_done"
    NONE_FAILED = "none_failed"
    NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"
    NONE_SKIPPED = "none_skipped"
    ALWAYS = "always"


TRIGGER_RULE_DESCRIPTION = (
    "When the task runs, given the states of its upstream tasks (dependsOn): Airflow's "
    "trigger rules. "
    "all_success (default): all upstream tasks succeeded. "
    "all_failed: all upstream tasks are Failed or UpstreamFailed. "
    "all_done: all upstream tasks finished, whatever their state. "
    "all_skipped: all upstream tasks were skipped. "
    "one_success: at least one upstream task succeeded (runs without waiting for the others). "
    "one_failed: at least one upstream task is Failed or UpstreamFailed (without waiting). "
    "one_done: at least one upstream task succeeded or failed (without waiting). "
    "none_failed: no upstream task failed: all succeeded or were skipped. "
    "none_failed_min_one_success: no upstream task failed and at least one succeeded. "
    "none_skipped: no upstream task was skipped; all finished. "
    "always: runs at once, whatever the upstream tasks do. "
    "When the rule can no longer be met the task does not run: it becomes UpstreamFailed "
    "when upstream failures are the cause, else Skipped."
)


class TaskSettings(ApiModel):
    """The settings a task may take from the DAG's defaults (Airflow's default_args)."""

    image: str | None = Field(
        default=None,
        description="The container image the task runs. Required here or in the DAG defaults.",
        min_length=1,
    )
    image_pull_policy: PullPolicy | None = Field(
        default=None, description="Always, IfNotPresent or Never, as in a Pod."
    )
    env: list[EnvVar] | None = Field(
        default=None,
        description=(
            "Environment variables of the task's container. Merged by name with the DAG "
            "defaults' env, the task's entries winning. Names starting with AIRKUBE_ are "
            "reserved."
        ),
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    env_from: list[EnvFromSource] | None = Field(
        default=None,
        description="ConfigMaps and Secrets whose keys become environment variables.",
    )
    resources: ResourceRequirements | None = Field(
        default=None,
        description=(
            "CPU and memory requests and limits of the task's container. A task's resources "
            "replace the DAG defaults' as a whole."
        ),
    )
    volume_mounts: list[VolumeMount] | None = Field(
        default=None,
        description=(
            "Volumes (declared in podTemplate.spec.volumes) mounted in the task's container. "
            "Merged by mountPath with the DAG defaults'."
        ),
    )
    retries: StrictInt | None = Field(
        default=None,
        ge=0,
        le=1000,
        description=(
            "How many times a failed try is retried before the task fails, so the task runs "
            "at most retries+1 times. Default: 0."
        ),
    )
    retry_delay: Duration | None = Field(
        default=None,
        description='How long to wait before the next try, such as "30s" or "5m". Default: 5m.',
    )
    retry_exponential_backoff: StrictBool | None = Field(
        default=None,
        description=(
            "Double the delay after each failed try: retryDelay * 2^(try-1), at most "
            "maxRetryDelay. Default: false."
        ),
    )
    max_retry_delay: PositiveDuration | None = Field(
        default=None,
        description="The longest delay between tries with exponential backoff. Default: 24h.",
    )
    execution_timeout: PositiveDuration | None = Field(
        default=None,
        description=(
            "The longest a try may run, counted from its pod's start. Past it the pod is "
            "stopped and the try fails with reason Timeout; retries apply. Also the pod's "
            "activeDeadlineSeconds. Default: no limit."
        ),
    )
    pending_timeout: PositiveDuration | None = Field(
        default=None,
        description=(
            "The longest a try's pod may stay Pending (unschedulable, its image not pulled, "
            "a Secret or ConfigMap missing…), counted from the pod's creation. Past it the "
            "pod is deleted and the try fails with reason PendingTimeout; retries apply. "
            "Airflow's worker_pods_pending_timeout. Default: 5m."
        ),
    )
    skip_on_exit_code: list[Annotated[StrictInt, Field(ge=1, le=255)]] | None = Field(
        default=None,
        description=(
            "Exit codes that make the task Skipped instead of Failed (Airflow's BashOperator "
            "skips on 99); downstream tasks then follow their trigger rules. Default: [99]."
        ),
    )
    pod_template: PodTemplate | None = Field(
        default=None,
        description=(
            "Overrides of the task's pods: metadata (labels, annotations) and Pod spec fields "
            "(serviceAccountName, nodeSelector, tolerations, volumes, securityContext…). "
            "Merged deeply with the DAG defaults' podTemplate, the task winning."
        ),
    )
    on_failure: Callbacks | None = Field(
        default=None,
        description=(
            "Callbacks (webhooks or notifier pods) called when a try fails and no retry "
            "follows (Airflow's on_failure_callback). A task's list replaces the DAG "
            "defaults'."
        ),
    )
    on_retry: Callbacks | None = Field(
        default=None,
        description="Callbacks called when a try fails and another try follows.",
    )
    on_success: Callbacks | None = Field(
        default=None, description="Callbacks called when a try succeeds."
    )


class Task(TaskSettings):
    """A task: one container run in its own pod for each try."""

    name: Annotated[str, AfterValidator(check_task_name)] = Field(
        description=(
            "The task's name, unique in the DAG: lowercase letters, digits and '-' "
            f"(at most {TASK_NAME_MAX_LENGTH}), as it becomes part of pod names."
        ),
        json_schema_extra={"pattern": DNS1123_LABEL_PATTERN, "maxLength": TASK_NAME_MAX_LENGTH},
    )
    command: list[str] | None = Field(
        default=None,
        description=(
            "The command (entrypoint) to run; the image's when absent. Templates such as "
            "{{ ds }} are rendered when the task starts."
        ),
    )
    args: list[str] | None = Field(
        default=None, description="Arguments of the command. Templates are rendered."
    )
    depends_on: list[str] | None = Field(
        default=None,
        description="The names of the task's upstream tasks: it runs after them.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    trigger_rule: TriggerRule = Field(
        default=TriggerRule.ALL_SUCCESS, description=TRIGGER_RULE_DESCRIPTION
    )


class TaskDefaults(TaskSettings):
    """Settings for every task that does not set them itself (Airflow's default_args)."""


class Timetable(StrEnum):
    """How a cron schedule becomes runs (Airflow's two cron timetables)."""

    INTERVAL = "interval"
    TRIGGER = "trigger"


TIMETABLE_DESCRIPTION = (
    "How the schedule becomes runs, as in Airflow. interval (default, Airflow 2's "
    "CronDataIntervalTimetable): consecutive cron times bound data intervals; a run is "
    "created when its interval ends, and its logical date is the interval's start (the "
    "run of 0 0 * * * for 24 November starts on 25 November at 00:00). trigger (Airflow "
    "3's CronTriggerTimetable): a run at each cron time, whose logical date is that time "
    "and whose data interval is empty (it starts and ends then)."
)

PARAMS_DESCRIPTION = (
    "Parameters, read in templates as {{ params.<name> }}; a run may override them in its "
    "spec.params. Each value is the param's default, or a declaration: an object with "
    "default, and optionally type (string, integer, number, boolean, array, object or null, "
    "or a list of them), "
    "enum (the allowed values), minimum and maximum (numbers), minLength and maxLength "
    "(strings) and description. A run's value for a declared param is checked (and "
    'converted from text: "42" to 42 for an integer); a bad value fails the run. A '
    "declaration without default makes the param required, which only a DAG without "
    "schedule may have. A default that is itself an object with only these keys must be "
    "written as a declaration: {default: {...}}."
)


class PodGCStrategy(StrEnum):
    """When the pods of a run's tries are deleted (their records stay in the database)."""

    ON_POD_SUCCESS = "OnPodSuccess"
    ON_RUN_SUCCESS = "OnRunSuccess"
    ON_RUN_COMPLETION = "OnRunCompletion"
    NEVER = "Never"


DEFAULT_HISTORY_LIMIT = 10


class PodGC(ApiModel):
    """Cleaning up the pods of finished tries."""

    strategy: PodGCStrategy = Field(
        default=PodGCStrategy.ON_RUN_SUCCESS,
        description=(
            "OnRunSuccess (default): when a run succeeds its pods are deleted; a failed run "
            "keeps them all, so `kubectl logs` works while you debug it. OnRunCompletion: "
            "delete them when the run ends, whatever its state. OnPodSuccess: delete each pod "
            "as soon as its try succeeded (like Airflow's KubernetesExecutor). Never: keep "
            "them until the DAGRun is deleted."
        ),
    )


class DAGSpec(ApiModel):
    """A DAG: tasks with dependencies, and when and how its runs happen."""

    description: str | None = Field(default=None, description="What the DAG does, for people.")
    schedule: Annotated[str, AfterValidator(check_schedule)] | None = Field(
        default=None,
        description=(
            'When runs are created: a 5-field cron expression such as "0 2 * * *", read as '
            "wall-clock time in the DAG's timezone, or @hourly, @daily, @weekly, @monthly, "
            "@yearly, or @once (one run, at startDate or as soon as the DAG exists). With the "
            "default timetable a run is created when its data interval ends. Absent: runs "
            "are only triggered by hand."
        ),
        json_schema_extra={"pattern": SCHEDULE_PATTERN},
    )
    # None rather than a default value: a spec that does not set it keeps its version hash.
    timetable: Timetable | None = Field(default=None, description=TIMETABLE_DESCRIPTION)
    timezone: Annotated[str, AfterValidator(check_timezone)] = Field(
        default="UTC",
        description=(
            "The IANA timezone the schedule and dates without an offset are read in, such as "
            '"Europe/Paris"; daylight saving time is followed as Airflow does: a cron time '
            "that does not exist that day runs as much later as the clocks moved (an hour), one "
            "that happens twice runs once "
            "(the second time), except for schedules that fire every hour, which fire in both "
            "hours. Default: UTC."
        ),
        min_length=1,
    )
    start_date: LocalDateTime | None = Field(
        default=None,
        description=(
            "No scheduled run has a logical date before this: the first data interval starts "
            "at the first cron time at or after it. A date or an RFC 3339 date-time; without "
            "an offset it is read in the DAG's timezone (a date alone is its midnight). With "
            "@once, the logical date of the one run."
            f" Dates are {DATE_RANGE}."
        ),
    )
    end_date: LocalDateTime | None = Field(
        default=None,
        description="No scheduled run has a logical date after this (same format as startDate).",
    )
    catchup: StrictBool = Field(
        default=False,
        description=(
            "true: create a run for every data interval missed since startDate or since the "
            "DAG was last scheduled, oldest first. false (default): only the latest one, as "
            "when the DAG is unpaused after a while."
        ),
    )
    paused: StrictBool = Field(
        default=False,
        description="Create no scheduled runs; runs already created carry on. Default: false.",
    )
    max_active_runs: StrictInt = Field(
        default=16,
        ge=1,
        description=(
            "At most this many runs of the DAG are Running at once; others wait as Queued, "
            "and the schedule creates no more runs while this many are Queued or Running. "
            "Default: 16."
        ),
    )
    max_active_tasks: StrictInt = Field(
        default=16,
        ge=1,
        description="At most this many tasks of a run have a pod at once. Default: 16.",
    )
    dagrun_timeout: PositiveDuration | None = Field(
        default=None,
        description=(
            'The longest a run may take, such as "2h". Past it the run fails: its pods are '
            "stopped and its unfinished tasks are Skipped. Default: no limit."
        ),
    )
    params: Annotated[dict[str, Any], AfterValidator(_check_param_names)] | None = Field(
        default=None, description=PARAMS_DESCRIPTION
    )
    defaults: TaskDefaults | None = Field(
        default=None,
        description="Settings for every task that does not set them (Airflow's default_args).",
    )
    successful_runs_history_limit: StrictInt | None = Field(
        default=None,
        ge=0,
        description=(
            "How many Succeeded DAGRun resources to keep; older ones are deleted (with their "
            "pods), and the metadata database keeps their history. Default: 10."
        ),
    )
    failed_runs_history_limit: StrictInt | None = Field(
        default=None,
        ge=0,
        description=(
            "How many Failed or Cancelled DAGRun resources to keep; older ones are deleted, "
            "and the metadata database keeps their history. Default: 10."
        ),
    )
    pod_gc: PodGC | None = Field(
        default=None,
        alias="podGC",
        description="When the pods of finished tries are deleted. Default: OnRunSuccess.",
    )
    on_run_failure: Callbacks | None = Field(
        default=None,
        description="Callbacks called when a run ends Failed (Airflow's DAG on_failure_callback).",
    )
    on_run_success: Callbacks | None = Field(
        default=None, description="Callbacks called when a run ends Succeeded."
    )
    deadline: RunDeadline | None = Field(
        default=None,
        description=(
            "A run not finished this long after its logical date (or after it was queued) "
            "calls its callbacks, once; the run carries on (Airflow 3's Deadline Alerts)."
        ),
    )
    tasks: list[Task] = Field(
        min_length=1,
        max_length=MAX_TASKS,
        description="The tasks of the DAG; each name is unique.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )

    @model_validator(mode="after")
    def _check_dates(self) -> Self:
        if self.start_date is not None and self.end_date is not None:
            start, end = self.start_date, self.end_date
            comparable = (start.tzinfo is None) == (end.tzinfo is None)
            if comparable and end < start:
                raise ValueError("endDate is before startDate")
        return self


class LastRun(StatusModel):
    """The DAG's most recent run."""

    name: str = Field(description="The DAGRun's name.")
    state: RunState | None = Field(default=None, description="Its state.")
    logical_date: AwareDatetime | None = Field(default=None, description="Its logical date.")
    start_time: AwareDatetime | None = Field(default=None, description="When it started.")
    end_time: AwareDatetime | None = Field(default=None, description="When it ended.")


class LastScheduledRun(StatusModel):
    """The newest run the schedule created: where the schedule carries on from."""

    name: str = Field(description="The DAGRun's name.")
    logical_date: AwareDatetime = Field(description="Its logical date.")
    data_interval_start: AwareDatetime = Field(description="The start of its data interval.")
    data_interval_end: AwareDatetime = Field(description="The end of its data interval.")


class DAGStatus(StatusModel):
    """What the operator observed about the DAG."""

    observed_generation: int | None = Field(
        default=None, description="The metadata.generation this status describes."
    )
    conditions: list[Condition] | None = Field(
        default=None,
        description=(
            "Ready is False, with the reason and a message naming the task, when the spec is "
            "invalid (a cycle, an unknown dependency, a bad schedule…)."
        ),
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    dag_version: str | None = Field(
        default=None, description="The hash of the current spec, which new runs pin."
    )
    next_run_time: AwareDatetime | None = Field(
        default=None, description="When the next scheduled run will be created."
    )
    last_run: LastRun | None = Field(default=None, description="The most recent run.")
    last_scheduled_run: LastScheduledRun | None = Field(
        default=None,
        description="The newest run the schedule created; the schedule carries on after it.",
    )
    active_runs: int | None = Field(
        default=None, description="How many runs are Queued or Running.", ge=0
    )


class DAG(StatusModel):
    """The DAG resource as read from the API server."""

    api_version: Literal["airkube.io/v1alpha1"] = "airkube.io/v1alpha1"
    kind: Literal["DAG"] = "DAG"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: DAGSpec
    status: DAGStatus | None = None
