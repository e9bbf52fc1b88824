"""The graph page, and what the run and try pages show beyond their tables (a Gantt, the
Kubernetes events, "why isn't it running?", the pod and its command). The graph is drawn
here as an SVG from the server's layout: each name escaped once, no script needed."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from airkube.core.graph_view import DEFAULT_THRESHOLD
from airkube.web import context, views
from airkube.web.data import DataError
from airkube.web.models import RunDetail
from airkube.web.pages import STATE_CLASSES, _render
from airkube.web.service import Service

router = APIRouter(include_in_schema=False)

NODE_W, NODE_H = 200, 40
GAP_X, GAP_Y = 80, 18
PAD = 20
LABEL_CHARS = 26


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _xy(node: views.GraphNode) -> tuple[int, int]:
    return PAD + node.layer * (NODE_W + GAP_X), PAD + node.row * (NODE_H + GAP_Y)


def graph_svg(view: views.GraphView, namespace: str) -> Markup:
    """The laid-out graph as an SVG: nodes link to their task's try in the run (a group to
    the run page), edges carry non-default trigger rules."""
    width = 2 * PAD + max(view.layers, 1) * (NODE_W + GAP_X) - GAP_X
    height = 2 * PAD + max(view.rows, 1) * (NODE_H + GAP_Y) - GAP_Y
    by_id = {n.id: n for n in view.nodes}
    base = f"/ui/namespaces/{namespace}/dags/{view.dag}"
    out = [
        f'<svg class="dag-graph" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">'
    ]
    for e in view.edges:
        s, t = by_id[e.source], by_id[e.target]
        sx, sy = _xy(s)
        tx, ty = _xy(t)
        x1, y1, x2, y2 = sx + NODE_W, sy + NODE_H // 2, tx, ty + NODE_H // 2
        mid = (x1 + x2) // 2
        out.append(f'<path class="edge" d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"/>')
        if e.trigger_rule:
            out.append(
                f'<text class="rule" x="{x2 - 4}" y="{y2 - 4}" text-anchor="end">'
                f"{escape(e.trigger_rule)}</text>"
            )
    for n in view.nodes:
        x, y = _xy(n)
        first = n.tasks[0]
        if n.tasks[1:]:
            label = f"{_short(first, 18)} +{len(n.tasks) - 1}"
            title = f"{len(n.tasks)} tasks: {first} … {n.tasks[-1]}"
            css = "group"
            href = f"{base}/runs/{view.run}#task-{first}" if view.run else None
        else:
            label = _short(first)
            title = first + (f": {n.state}" if n.state else "")
            css = STATE_CLASSES.get(n.state or "", "none")
            href = (
                f"{base}/runs/{view.run}/tasks/{first}/tries/{n.try_number}"
                if view.run and n.try_number
                else None
            )
        body = [
            f'<g class="node" data-node="{escape(n.id)}"><title>{escape(title)}</title>',
            f'<rect class="{css}" x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="4"/>',
            f'<text x="{x + 8}" y="{y + (16 if n.counts or n.tasks[1:] else 25)}">'
            f"{escape(label)}</text>",
        ]
        if n.tasks[1:]:
            total = len(n.tasks)
            if n.counts:
                cx = x + 8
                for state, count in n.counts.items():
                    w = max(2, round((NODE_W - 16) * count / total))
                    cls = STATE_CLASSES.get(state, "none")
                    body.append(
                        f'<rect class="{cls}" x="{cx}" y="{y + 24}" width="{w}" height="8">'
                        f"<title>{count} {escape(state)}</title></rect>"
                    )
                    cx += w
                summary = " · ".join(f"{c} {s}" for s, c in n.counts.items())
                body[0] = body[0].replace("</title>", f" — {escape(summary)}</title>", 1)
            else:
                body.append(f'<text class="muted" x="{x + 8}" y="{y + 32}">{total} tasks</text>')
        body.append("</g>")
        inner = "".join(body)
        out.append(f'<a href="{escape(href)}">{inner}</a>' if href else inner)
    out.append("</svg>")
    return Markup("".join(out))


@router.get("/ui/namespaces/{namespace}/dags/{dag}/graph", response_class=HTMLResponse)
def graph_page(
    request: Request,
    namespace: str,
    dag: str,
    run: str = "",
    threshold: Annotated[int, Query(ge=1, le=100_000)] = DEFAULT_THRESHOLD,
) -> HTMLResponse:
    service = context.service(request)
    runs = service.list_runs(namespace, dag, limit=25).items
    chosen = run or (runs[0].name if runs else "")
    view = views.graph(service, namespace, dag, chosen or None, threshold=threshold)
    groups = [n for n in view.nodes if len(n.tasks) > 1]
    return _render(
        "graph.html",
        ns=namespace,
        dag=dag,
        view=view,
        runs=runs,
        chosen=chosen,
        svg=graph_svg(view, namespace),
        groups=groups,
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _events(
    service: Service, namespace: str, kind: str, name: str
) -> tuple[list[views.KubeEvent], str | None]:
    """The object's events, or none and why when the user may not read them: a page shows
    what its user may see, not a 403 for all of it."""
    try:
        return views.events(service, namespace, kind, name), None
    except DataError as e:
        if e.status not in (401, 403):
            raise
        return [], str(e)


def run_extras(service: Service, namespace: str, dag: str, detail: RunDetail) -> dict[str, Any]:
    """What run.html's extra blocks show: the Gantt, the events, the waiting tasks."""
    now = _now()
    events, events_note = (
        _events(service, namespace, "DAGRun", detail.name) if detail.live else ([], None)
    )
    return {
        "gantt": gantt_rows(views.gantt(service, namespace, detail), now),
        "events": events,
        "events_note": events_note,
        "waiting": views.waiting(service, namespace, dag, detail, now),
    }


def gantt_rows(chart: views.Gantt, now: datetime) -> dict[str, Any]:
    """The Gantt's bars as percentages of the run's span: (bar, left, queued width, running
    width); a try not ended yet runs until ``now``."""
    origin = chart.start
    if origin is None:
        return {"rows": [], "omitted": chart.omitted, "seconds": 0}
    open_ended = any(b.end_time is None and (b.queued_time or b.start_time) for b in chart.bars)
    end = max(chart.end or now, now) if open_ended else (chart.end or now)
    span = max((end - origin).total_seconds(), 1e-3)

    def pct(t: datetime) -> float:
        return round(100 * (t - origin).total_seconds() / span, 3)

    rows = []
    for b in chart.bars:
        first = b.queued_time or b.start_time
        if first is None:
            continue
        started = b.start_time or (b.end_time if b.queued_time else None) or now
        finished = b.end_time or now
        left = pct(first)
        queued = max(pct(min(started, finished)) - left, 0.0)
        running = max(pct(finished) - pct(min(started, finished)), 0.0) if b.start_time else 0.0
        rows.append((b, left, queued, max(running, 0.2 if b.start_time else 0.0)))
    return {"rows": rows, "omitted": chart.omitted, "seconds": round(span)}


def try_extras(
    service: Service, namespace: str, dag: str, run: str, task: str, n: int, current: bool
) -> dict[str, Any]:
    """What try.html's extra blocks show: the pod and its command, its events, and why the
    task waits (for its current try)."""
    pod = views.pod_details(service, namespace, dag, run, task, n)
    pod_events, events_note = (
        _events(service, namespace, "Pod", pod.name) if pod and pod.name else ([], None)
    )
    why: list[views.Waiting] = []
    if current:
        detail = service.get_run(namespace, run, dag)
        why = views.waiting(service, namespace, dag, detail, _now(), only=task)
    command = shlex.join(pod.command + pod.args) if pod else ""
    return {
        "pod": pod,
        "pod_events": pod_events,
        "events_note": events_note,
        "why": why,
        "command_line": command,
    }
