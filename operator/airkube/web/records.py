"""The metadata database's records as they are, under ``/api/v1/namespaces/{ns}/recorded``:
a DAG's recorded runs, a run's tries and how each try's log was captured, and a stored
log's text. The CLI's database commands (``history``, ``tries``, stored logs in ``logs``)
read these when they go through the in-cluster server instead of a database connection,
and print what they print from the database. Read-only GETs; in the cluster they are gated
like every database view (:mod:`airkube.web.auth`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ConfigDict, Field

from airkube.web import context
from airkube.web.data import History
from airkube.web.models import Model
from airkube.web.service import NotFoundError

router = APIRouter(prefix="/api/v1/namespaces/{namespace}/recorded")


class RecordedRun(Model):
    model_config = ConfigDict(from_attributes=True)

    namespace: str
    name: str
    uid: str
    dag_name: str
    run_type: str
    logical_date: datetime
    state: str
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    dag_version: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    message: str | None = None
    clear_number: int = 0
    resource_deleted_at: datetime | None = None


class RecordedRunList(Model):
    items: list[RecordedRun]


class RecordedTry(Model):
    model_config = ConfigDict(from_attributes=True)

    task_name: str
    try_number: int
    state: str
    pod_name: str | None = None
    queued_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    exit_code: int | None = None
    output: str | None = None
    message: str | None = None
    reason: str | None = None


class RecordedLog(Model):
    model_config = ConfigDict(from_attributes=True)

    task_name: str
    try_number: int
    state: str
    store: str | None = None
    key: str | None = None
    pod_name: str | None = None
    node_name: str | None = None
    size: int | None = None
    cut_bytes: int | None = None
    error: str | None = None


class RecordedTries(Model):
    """A run's newest incarnation in the database, its tries and their log captures."""

    run: RecordedRun
    tries: list[RecordedTry]
    logs: list[RecordedLog]


def _history(request: Request) -> History:
    history = context.service(request).history
    if history is None:
        raise NotFoundError("this server has no metadata database: no history to show")
    return history


@router.get("/dags/{dag}/runs", response_model=RecordedRunList)
def recorded_runs(
    request: Request,
    namespace: str,
    dag: str,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 25,
) -> RecordedRunList:
    """The DAG's runs as the metadata database has them, newest first (deleted ones too)."""
    rows = _history(request).list_runs(namespace, dag, limit)
    return RecordedRunList(items=[RecordedRun.model_validate(r) for r in rows])


@router.get("/runs/{run}/tries", response_model=RecordedTries)
def recorded_tries(request: Request, namespace: str, run: str) -> RecordedTries:
    history = _history(request)
    found = history.get_run(namespace, run)
    if found is None:
        raise NotFoundError(f"run {run} is not in the metadata database (namespace {namespace})")
    return RecordedTries(
        run=RecordedRun.model_validate(found),
        tries=[RecordedTry.model_validate(t) for t in history.task_tries(namespace, run)],
        logs=[RecordedLog.model_validate(x) for x in history.task_logs(namespace, run)],
    )


@router.get(
    "/runs/{run}/tasks/{task}/tries/{n}/log",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
def recorded_log(request: Request, namespace: str, run: str, task: str, n: int) -> Response:
    """The try's log from the log store, as stored (UTF-8 text, cut at the capture cap)."""
    data = _history(request).stored_log(namespace, run, task, n)
    return Response(data, media_type="text/plain; charset=utf-8")
