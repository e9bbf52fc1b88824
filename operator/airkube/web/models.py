"""The JSON API's response models (they make its OpenAPI document). Field names are
camelCase, as in the resources; a task's entry in a run is the api's own
:class:`~airkube.api.dagrun.TaskStatus`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from airkube.api.dagrun import TaskStatus


class Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class RunBar(Model):
    """One recent run of a DAG, as a bar: colour = state, length = duration."""

    name: str
    state: str
    start_time: datetime | None = None
    end_time: datetime | None = None
    duration_seconds: float | None = None


class DagSummary(Model):
    name: str
    namespace: str
    schedule: str | None = None
    timezone: str | None = None
    paused: bool = False
    next_run_time: datetime | None = None
    ready: bool | None = Field(default=None, description="The Ready condition; None: not yet.")
    ready_reason: str | None = None
    ready_message: str | None = None
    tasks: int = 0
    recent_runs: list[RunBar] = Field(default_factory=list)


class DagList(Model):
    items: list[DagSummary]
    continue_: str | None = Field(
        default=None,
        alias="continue",
        description="Pass as ?continue= for the next page; None on the last page.",
    )
    total: int = Field(description="DAGs matching the search, all pages together.")


class DagDetail(DagSummary):
    spec: dict[str, Any]
    status: dict[str, Any] | None = None
    task_order: list[str] = Field(default_factory=list)
    upstream: dict[str, list[str]] = Field(default_factory=dict)


class RunSummary(Model):
    name: str
    namespace: str
    dag: str
    run_type: str | None = None
    logical_date: datetime | None = None
    state: str
    start_time: datetime | None = None
    end_time: datetime | None = None
    progress: str | None = None
    live: bool = Field(description="The DAGRun resource exists.")
    recorded: bool = Field(description="The metadata database has the run.")


class RunList(Model):
    items: list[RunSummary]


class TaskEntry(TaskStatus):
    """A task of a run: its state entry, its name and the tasks it depends on."""

    name: str = ""
    upstream: list[str] = Field(default_factory=list)


class RunDetail(RunSummary):
    reason: str | None = None
    message: str | None = None
    dag_version: str | None = None
    tasks_omitted: int = 0
    tasks: list[TaskEntry]


class LogInfo(Model):
    state: str
    store: str | None = None
    bytes: int | None = None
    cut_bytes: int | None = None
    error: str | None = None


class TryDetail(Model):
    task: str
    try_number: int
    state: str
    queued_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    pod: str | None = None
    node: str | None = None
    pod_phase: str | None = Field(default=None, description="While the pod exists.")
    exit_code: int | None = None
    reason: str | None = None
    message: str | None = None
    output: str | None = None
    log: LogInfo | None = Field(default=None, description="How its log capture ended.")


class TryList(Model):
    items: list[TryDetail]


class LogPage(Model):
    source: Literal["pod", "store"]
    start: int = Field(description="Index of the first line given.")
    lines: list[str]
    total_lines: int
    next_start: int | None = Field(default=None, description="None on the last page.")
