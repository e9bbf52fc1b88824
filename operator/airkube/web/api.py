"""The JSON API under ``/api/v1``, shaped like Kubernetes paths. Read-only: every route
is a GET, and none changes anything."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from airkube.web import context
from airkube.web.models import DagDetail, DagList, LogPage, RunDetail, RunList, TryDetail, TryList

router = APIRouter(prefix="/api/v1")
RUN = "/namespaces/{namespace}/dags/{dag}/runs/{run}"
TRY = RUN + "/tasks/{task}/tries/{n}"


@router.get("/namespaces/{namespace}/dags", response_model=DagList, response_model_by_alias=True)
def list_dags(
    request: Request,
    namespace: str,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cont: Annotated[str | None, Query(alias="continue")] = None,
    search: str = "",
) -> DagList:
    """The namespace's DAGs by name, a page at a time; ``search`` keeps names containing it."""
    return context.service(request).list_dags(namespace, limit=limit, cont=cont, search=search)


@router.get("/namespaces/{namespace}/dags/{dag}", response_model=DagDetail)
def get_dag(request: Request, namespace: str, dag: str) -> DagDetail:
    return context.service(request).get_dag(namespace, dag)


@router.get("/namespaces/{namespace}/dags/{dag}/runs", response_model=RunList)
def list_runs(
    request: Request, namespace: str, dag: str, limit: Annotated[int, Query(ge=1, le=500)] = 25
) -> RunList:
    """Live DAGRuns merged with the metadata database's runs (deleted ones too)."""
    return context.service(request).list_runs(namespace, dag, limit=limit)


@router.get(RUN, response_model=RunDetail)
def get_run(request: Request, namespace: str, dag: str, run: str) -> RunDetail:
    return context.service(request).get_run(namespace, run, dag)


@router.get(RUN + "/tasks/{task}/tries", response_model=TryList)
def list_tries(request: Request, namespace: str, dag: str, run: str, task: str) -> TryList:
    return context.service(request).list_tries(namespace, dag, run, task)


@router.get(TRY, response_model=TryDetail)
def get_try(request: Request, namespace: str, dag: str, run: str, task: str, n: int) -> TryDetail:
    return context.service(request).get_try(namespace, dag, run, task, n)


@router.get(TRY + "/logs", response_model=LogPage)
def get_logs(
    request: Request,
    namespace: str,
    dag: str,
    run: str,
    task: str,
    n: int,
    start: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> LogPage:
    """A page of the try's log lines: from its pod while it exists, else the log store."""
    return context.service(request).get_log(namespace, dag, run, task, n, start=start, limit=limit)
