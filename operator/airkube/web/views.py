"""The views beyond the lists: the DAG graph (fan-outs collapsed, laid out on the server),
a run's Gantt and Kubernetes events, a try's pod details and events, and "why isn't it
running?" — computed from a :class:`~airkube.web.service.Service`'s cluster and history
with core's pure functions (:mod:`airkube.core.graph_view`, :mod:`airkube.core.plan.why`).

The graph is laid out here, not by dagre in the browser: with fan-outs collapsed the
layout of a 10,000-task DAG takes the server well under a second (bench/web_views.py),
the page draws a finished SVG without any script, and the time is measured where the
bench measures it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from airkube.api.dag import DAGSpec, TriggerRule
from airkube.api.dagrun import TaskStatus
from airkube.api.states import RunState, TaskState
from airkube.core.graph_view import DEFAULT_THRESHOLD, collapse, layout, state_counts
from airkube.core.plan.why import WaitKind, why_waiting
from airkube.core.rules.admission import RunStanding
from airkube.core.timestamps import parse_time
from airkube.web.models import Model, RunDetail, TaskEntry
from airkube.web.service import NotFoundError, Service

MAX_WHY = 200
"""Waiting tasks explained on a run page (a huge run's first ones)."""
MAX_GANTT = 500
"""Tries drawn in a run's Gantt (the earliest ones)."""


class GraphNode(Model):
    id: str
    tasks: list[str] = Field(description="The tasks it stands for: one, or a collapsed group.")
    layer: int
    row: int
    trigger_rule: str | None = Field(
        default=None, description="Its tasks' trigger rule when not all_success (or 'mixed')."
    )
    state: str | None = Field(default=None, description="A single task's state in the run.")
    try_number: int = 0
    counts: dict[str, int] = Field(
        default_factory=dict, description="A group's tasks by state in the run."
    )


class GraphEdge(Model):
    source: str
    target: str
    trigger_rule: str | None = Field(
        default=None, description="The downstream tasks' trigger rule when not all_success."
    )


class GraphView(Model):
    dag: str
    run: str | None = None
    run_state: str | None = None
    tasks: int
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    layers: int
    rows: int = Field(description="The most nodes in one layer.")
    threshold: int


class GanttBar(Model):
    task: str
    try_number: int
    state: str
    queued_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None


class Gantt(Model):
    start: datetime | None = None
    end: datetime | None = None
    bars: list[GanttBar]
    omitted: int = 0


class KubeEvent(Model):
    type: str
    reason: str
    message: str
    count: int = 1
    time: datetime | None = None
    source: str | None = None


class Waiting(Model):
    task: str = Field(description="The waiting task; empty: the run as a whole waits.")
    reason: str
    message: str
    waiting_for: list[str] = Field(default_factory=list)
    until: datetime | None = None


class PodDetails(Model):
    name: str
    phase: str | None = None
    node: str | None = None
    image: str | None = None
    command: list[str] = Field(default_factory=list)
    args: list[str] = Field(default_factory=list)
    from_pod: bool = Field(description="False: the DAG's spec (the pod is gone).")


_specs: dict[tuple[str, str, str], DAGSpec | None] = {}
"""Validated specs by (namespace, name, resourceVersion): validating a 10,000-task DAG
takes a good part of a second, and its resourceVersion changes with every change."""
_SPECS_KEPT = 32


def _spec(body: dict[str, Any]) -> DAGSpec | None:
    from airkube.core.validation import check_dag

    meta = body.get("metadata") or {}
    version = meta.get("resourceVersion")
    key = (str(meta.get("namespace")), str(meta.get("name")), str(version))
    if version and key in _specs:
        return _specs[key]
    spec, problems = check_dag(body.get("spec") or {})
    found = None if problems else spec
    if version:
        if len(_specs) >= _SPECS_KEPT:
            _specs.pop(next(iter(_specs)))
        _specs[key] = found
    return found


def _dag(service: Service, namespace: str, dag: str) -> dict[str, Any]:
    body = service.cluster.get_dag(namespace, dag)
    if body is None:
        raise NotFoundError(f"DAG {dag} not found in namespace {namespace}")
    return body


def _rule(rules: dict[str, TriggerRule], tasks: list[str]) -> str | None:
    found = {rules.get(t, TriggerRule.ALL_SUCCESS) for t in tasks}
    if found == {TriggerRule.ALL_SUCCESS}:
        return None
    return next(iter(found)).value if len(found) == 1 else "mixed"


def graph(
    service: Service,
    namespace: str,
    dag: str,
    run: str | None = None,
    *,
    threshold: int = DEFAULT_THRESHOLD,
) -> GraphView:
    """The DAG's graph, with ``run``'s states when given."""
    body = _dag(service, namespace, dag)
    spec = _spec(body)
    if spec is None:
        raise NotFoundError(
            f"DAG {dag} is not valid (see its Ready condition): it has no graph to draw"
        )
    from airkube.core.graph import graph_of

    g = graph_of(spec)
    rules = {t.name: t.trigger_rule for t in spec.tasks}
    states: dict[str, str] = {}
    tries: dict[str, int] = {}
    run_state: str | None = None
    if run:
        run_state = _run_states(service, namespace, dag, run, states, tries)
    collapsed = collapse(g.order, g.upstream, threshold)
    positions = layout([n.id for n in collapsed.nodes], collapsed.edges)
    nodes = []
    for node in collapsed.nodes:
        pos = positions[node.id]
        members = list(node.tasks)
        nodes.append(
            GraphNode(
                id=node.id,
                tasks=members,
                layer=pos.layer,
                row=pos.row,
                trigger_rule=_rule(rules, members),
                state=None
                if node.group or run_state is None
                else states.get(node.id, TaskState.NONE.value),
                try_number=0 if node.group else tries.get(node.id, 0),
                counts=state_counts(node, states) if node.group and run_state is not None else {},
            )
        )
    by_id = {n.id: n for n in nodes}
    edges = [
        GraphEdge(source=e.source, target=e.target, trigger_rule=by_id[e.target].trigger_rule)
        for e in collapsed.edges
    ]
    per_layer: dict[int, int] = {}
    for n in nodes:
        per_layer[n.layer] = per_layer.get(n.layer, 0) + 1
    return GraphView(
        dag=dag,
        run=run if run_state is not None else None,
        run_state=run_state,
        tasks=len(g.order),
        nodes=nodes,
        edges=edges,
        layers=len(per_layer),
        rows=max(per_layer.values(), default=0),
        threshold=threshold,
    )


def _run_states(
    service: Service,
    namespace: str,
    dag: str,
    run: str,
    states: dict[str, str],
    tries: dict[str, int],
) -> str:
    """Fill ``states`` and ``tries`` with the run's tasks (the live status, and the
    database for the tasks a large run's status leaves out); the run's state. Plain
    values, not a RunDetail: a 10,000-task run needs no model per task here."""
    body = service.cluster.get_run(namespace, run)
    history = service.history
    if body is not None and ((body.get("spec") or {}).get("dagRef") or {}).get("name") == dag:
        status = body.get("status") or {}
        if status.get("tasksOmitted") and history is not None:
            for name, (state, n) in history.task_states(namespace, run).items():
                states[name], tries[name] = state, n
        for name, entry in (status.get("tasks") or {}).items():
            states[name] = entry.get("state") or TaskState.NONE.value
            tries[name] = int(entry.get("tryNumber") or 0)
        return str(status.get("state") or RunState.QUEUED.value)
    recorded = history.get_run(namespace, run) if history is not None else None
    if recorded is None or recorded.dag_name != dag or history is None:
        service.get_run(namespace, run, dag)  # raises the 404 that says what is missing
        raise NotFoundError(f"run {run} of DAG {dag} not found in namespace {namespace}")
    for name, (state, n) in history.task_states(namespace, run).items():
        states[name], tries[name] = state, n
    return recorded.state


def gantt(service: Service, namespace: str, detail: RunDetail) -> Gantt:
    """Each try of the run, queued → running → done: the database's tries, and the live
    status's current try over the database's row of it."""
    bars: dict[tuple[str, int], GanttBar] = {}
    if service.history is not None and detail.recorded:
        for t in service.history.task_tries(namespace, detail.name):
            if t.try_number >= 1:
                bars[(t.task_name, t.try_number)] = GanttBar(
                    task=t.task_name,
                    try_number=t.try_number,
                    state=t.state,
                    queued_time=t.queued_time,
                    start_time=t.start_time,
                    end_time=t.end_time,
                )
    for e in detail.tasks:
        if e.try_number >= 1 and (detail.live or (e.name, e.try_number) not in bars):
            bars[(e.name, e.try_number)] = GanttBar(
                task=e.name,
                try_number=e.try_number,
                state=e.state.value,
                queued_time=e.queued_time,
                start_time=e.start_time,
                end_time=e.end_time,
            )

    def begin(b: GanttBar) -> datetime:
        return b.queued_time or b.start_time or b.end_time or datetime.max.replace(tzinfo=UTC)

    ordered = sorted(bars.values(), key=lambda b: (begin(b), b.task, b.try_number))
    times = [t for b in ordered for t in (b.queued_time, b.start_time, b.end_time) if t]
    return Gantt(
        start=min(times, default=None),
        end=max(times, default=None),
        bars=ordered[:MAX_GANTT],
        omitted=max(len(ordered) - MAX_GANTT, 0),
    )


def events(service: Service, namespace: str, kind: str, name: str) -> list[KubeEvent]:
    """The Kubernetes events about an object, oldest first."""
    out = []
    for e in service.cluster.events(namespace, kind, name):
        source = e.get("reportingComponent") or (e.get("source") or {}).get("component")
        out.append(
            KubeEvent(
                type=e.get("type") or "Normal",
                reason=e.get("reason") or "",
                message=e.get("message") or "",
                count=e.get("count") or 1,
                time=parse_time(
                    e.get("lastTimestamp") or e.get("eventTime") or e.get("firstTimestamp")
                ),
                source=source or None,
            )
        )
    return out


def _standings(service: Service, namespace: str, dag: str) -> list[RunStanding]:
    out = []
    for r in service.cluster.list_runs(namespace):
        if ((r.get("spec") or {}).get("dagRef") or {}).get("name") != dag:
            continue
        status = r.get("status") or {}
        try:
            state = RunState(status.get("state") or RunState.QUEUED.value)
        except ValueError:
            continue
        out.append(
            RunStanding(
                name=r["metadata"]["name"],
                state=state,
                started=status.get("startTime") is not None,
                logical_date=parse_time((r.get("spec") or {}).get("logicalDate")),
            )
        )
    return out


def waiting(
    service: Service,
    namespace: str,
    dag: str,
    detail: RunDetail,
    now: datetime,
    only: str | None = None,
) -> list[Waiting]:
    """Why the run's waiting tasks (or task ``only``) are not running, by the planner's own
    rules (the DAG's current spec); empty for a finished run or one whose resource is gone."""
    if not detail.live:
        return []
    try:
        state = RunState(detail.state)
    except ValueError:
        return []
    if state.finished:
        return []
    body = service.cluster.get_dag(namespace, dag)
    spec = _spec(body) if body is not None else None
    if spec is None:
        return []
    tasks: dict[str, TaskStatus] = {t.name: _status(t) for t in detail.tasks}
    runs = _standings(service, namespace, dag) if state is RunState.QUEUED else []
    if state is RunState.QUEUED:
        # The run as a whole waits for a slot among maxActiveRuns: one answer, not one
        # per task.
        for reason in why_waiting(
            spec, {}, "", now, run=detail.name, dag_name=dag, run_state=state, runs=runs
        ):
            if reason.reason == WaitKind.MAX_ACTIVE_RUNS:
                return [Waiting(task=only or "", reason=reason.reason, message=reason.message)]
    names = [only] if only else [t.name for t in detail.tasks]
    out: list[Waiting] = []
    for name in names:
        if name not in tasks or tasks[name].state in (TaskState.RUNNING,):
            continue
        for reason in why_waiting(
            spec, tasks, name, now, run=detail.name, dag_name=dag, run_state=state, runs=runs
        ):
            out.append(
                Waiting(
                    task=name,
                    reason=reason.reason,
                    message=reason.message,
                    waiting_for=list(reason.waiting_for),
                    until=reason.until,
                )
            )
        if len(out) >= MAX_WHY:
            break
    return out


def _status(entry: TaskEntry) -> TaskStatus:
    return TaskStatus.model_validate(entry.model_dump(exclude={"name", "upstream"}))


def pod_details(
    service: Service, namespace: str, dag: str, run: str, task: str, n: int
) -> PodDetails | None:
    """The try's pod and its rendered command (the task container's command and args);
    the DAG spec's when the pod is gone (not rendered)."""
    from airkube.core.pods import CONTAINER_NAME

    body = service.cluster.get_run(namespace, run)
    pod = (
        service.cluster.try_pod(namespace, run, task, n, body["metadata"]["uid"])
        if body is not None
        else None
    )
    if pod is not None:
        spec = pod.get("spec") or {}
        container = next(
            (c for c in spec.get("containers") or [] if c.get("name") == CONTAINER_NAME),
            (spec.get("containers") or [{}])[0],
        )
        return PodDetails(
            name=pod["metadata"]["name"],
            phase=(pod.get("status") or {}).get("phase"),
            node=spec.get("nodeName"),
            image=container.get("image"),
            command=[str(x) for x in container.get("command") or []],
            args=[str(x) for x in container.get("args") or []],
            from_pod=True,
        )
    dag_body = service.cluster.get_dag(namespace, dag)
    for t in ((dag_body or {}).get("spec") or {}).get("tasks") or []:
        if t.get("name") == task:
            return PodDetails(
                name="",
                image=t.get("image"),
                command=[str(x) for x in t.get("command") or []],
                args=[str(x) for x in t.get("args") or []],
                from_pod=False,
            )
    return None
