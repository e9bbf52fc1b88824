"""The JSON routes of the views beyond the lists: a DAG's graph (fan-outs collapsed, laid
out), a run's Gantt, its Kubernetes events and why its tasks wait. Read-only GETs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from airkube.core.graph_view import DEFAULT_THRESHOLD
from airkube.web import context, views
from airkube.web.api import RUN

router = APIRouter(prefix="/api/v1")


@router.get("/namespaces/{namespace}/dags/{dag}/graph", response_model=views.GraphView)
def get_graph(
    request: Request,
    namespace: str,
    dag: str,
    run: str = "",
    threshold: Annotated[int, Query(ge=1, le=100_000)] = DEFAULT_THRESHOLD,
) -> views.GraphView:
    """The DAG's tasks laid out in layers, sibling tasks above ``threshold`` collapsed into
    one node; with ``run``, each task's state (a group's counts by state)."""
    return views.graph(context.service(request), namespace, dag, run or None, threshold=threshold)


@router.get(RUN + "/gantt", response_model=views.Gantt)
def get_gantt(request: Request, namespace: str, dag: str, run: str) -> views.Gantt:
    """Each try of the run: when it was queued, started and ended."""
    service = context.service(request)
    return views.gantt(service, namespace, service.get_run(namespace, run, dag))


@router.get(RUN + "/events", response_model=list[views.KubeEvent])
def get_events(request: Request, namespace: str, dag: str, run: str) -> list[views.KubeEvent]:
    """The Kubernetes events about the run's DAGRun resource."""
    service = context.service(request)
    detail = service.get_run(namespace, run, dag)
    return views.events(service, namespace, "DAGRun", detail.name) if detail.live else []


@router.get(RUN + "/waiting", response_model=list[views.Waiting])
def get_waiting(request: Request, namespace: str, dag: str, run: str) -> list[views.Waiting]:
    """Why the run's waiting tasks are not running: the planner's reasons and their pods'."""
    service = context.service(request)
    detail = service.get_run(namespace, run, dag)
    return views.waiting(service, namespace, dag, detail, datetime.now(UTC))
