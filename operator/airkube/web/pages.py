"""The server-rendered pages (Jinja2, autoescaped: every user string and log line is shown
as text). Read-only: every route is a GET, and none changes anything."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from airkube.api.states import RunState, TaskState
from airkube.core.graph import tree_lines
from airkube.web import context
from airkube.web.csrf import current_token
from airkube.web.data import DataError
from airkube.web.fragments import FRAGMENT, fragment_url
from airkube.web.models import RunDetail

router = APIRouter(include_in_schema=False)
env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,  # every template, whatever its name
    undefined=StrictUndefined,
)
STATE_CLASSES: dict[str, str] = {
    **{s.value: "ok" for s in (RunState.SUCCEEDED, TaskState.SUCCEEDED)},
    **{
        s.value: "bad"
        for s in (RunState.FAILED, RunState.CANCELLED, TaskState.FAILED, TaskState.UPSTREAM_FAILED)
    },
    **{s.value: "run" for s in (RunState.RUNNING, TaskState.RUNNING)},
    **{s.value: "wait" for s in (RunState.QUEUED, TaskState.QUEUED, TaskState.SCHEDULED)},
    TaskState.UP_FOR_RETRY.value: "retry",
    TaskState.SKIPPED.value: "skip",
}
"""The CSS class of each state's colour (others: ``none``)."""
LOG_PAGE = 1000
"""Log lines on one try page."""


def _when(value: Any) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def _duration(start: Any, end: Any) -> str:
    if start is None or end is None:
        return ""
    seconds = int((end - start).total_seconds())
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


env.filters["when"] = _when
env.globals["duration"] = _duration
env.globals["state_class"] = lambda s: STATE_CLASSES.get(str(s), "none")
env.globals["signed_in"] = context.signed_in
env.globals["csrf_token"] = current_token  # the session's token, for forms and hx-headers
env.globals["fragment_url"] = fragment_url


def run_bars(namespace: str, dag: Any, longest: float) -> Markup:
    """A DAG's recent runs as bars, oldest first (colour = state, height = duration), built
    here rather than in the template: a page of 500 DAGs has 5,000 of them."""
    base = escape(f"/ui/namespaces/{namespace}/dags/{dag.name}/runs/")
    out = []
    for b in reversed(dag.recent_runs):
        name, state = escape(b.name), escape(b.state)
        height = 3 + int(21 * (b.duration_seconds or 0) / longest)
        out.append(
            f'<a class="{STATE_CLASSES.get(b.state, "none")}" title="{name}: {state}" '
            f'style="height: {height}px" href="{base}{name}"></a>'
        )
    return Markup("".join(out))


env.globals["run_bars"] = run_bars


def _render(name: str, **context: Any) -> HTMLResponse:
    template = env.get_template(name)
    block = FRAGMENT.get()
    if block is not None and block in template.blocks:  # a live page re-fetching a part
        return HTMLResponse("".join(template.blocks[block](template.new_context(context))))
    return HTMLResponse(template.render(**context))


def error_page(status: int, message: str, namespace: str) -> HTMLResponse:
    page = _render("error.html", ns=namespace, status=status, message=message)
    page.status_code = status
    return page


@router.get("/")
def home(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/ui/namespaces/{request.app.state.namespace}/dags")


@router.get("/ui/namespaces/{namespace}/dags", response_class=HTMLResponse)
def dag_list(
    request: Request,
    namespace: str,
    search: str = "",
    cont: Annotated[str | None, Query(alias="continue")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> HTMLResponse:
    page = context.service(request).list_dags(namespace, limit=limit, cont=cont, search=search)
    longest = max((b.duration_seconds or 0 for d in page.items for b in d.recent_runs), default=0)
    return _render("dags.html", ns=namespace, page=page, search=search, longest=longest or 1)


@router.get("/ui/namespaces/{namespace}/dags/{dag}", response_class=HTMLResponse)
def dag_grid(request: Request, namespace: str, dag: str) -> HTMLResponse:
    detail, runs = context.service(request).grid(namespace, dag)
    tasks = detail.task_order or sorted({t.name for r in runs for t in r.tasks})
    rows = grid_rows(namespace, dag, runs, tasks)
    return _render("grid.html", ns=namespace, dag=detail, runs=runs, grid_rows=rows)


def grid_rows(namespace: str, dag: str, runs: list[RunDetail], tasks: list[str]) -> Markup:
    """The grid's rows (a task by run table), built here rather than in the template: a 1,000-task
    DAG's 25 runs are 25,000 cells, and each name is escaped once, not once per cell."""
    run_urls = [escape(f"/ui/namespaces/{namespace}/dags/{dag}/runs/{r.name}") for r in runs]
    run_names = [escape(r.name) for r in runs]
    by_run = [{t.name: t for t in r.tasks} for r in runs]
    out: list[str] = []
    for task in tasks:
        name = escape(task)
        out.append(f"<tr><td>{name}</td>")
        for url, run, cells in zip(run_urls, run_names, by_run, strict=True):
            cell = cells.get(task)
            if cell is None:
                out.append('<td class="cell"></td>')
                continue
            state = cell.state.value
            css = STATE_CLASSES.get(state, "none")
            n = cell.try_number
            if n:
                out.append(
                    f'<td class="cell"><a class="{css}" title="{run} {name}: {state} (try {n})" '
                    f'href="{url}/tasks/{name}/tries/{n}"></a></td>'
                )
            else:
                out.append(
                    f'<td class="cell"><a class="{css}" title="{run} {name}: {state}"></a></td>'
                )
        out.append("</tr>\n")
    return Markup("".join(out))


@router.get("/ui/namespaces/{namespace}/dags/{dag}/runs/{run}", response_class=HTMLResponse)
def run_page(request: Request, namespace: str, dag: str, run: str) -> HTMLResponse:
    detail = context.service(request).get_run(namespace, run, dag)
    by_name = {t.name: t for t in detail.tasks}
    upstream = {t.name: t.upstream for t in detail.tasks}
    rows = [(prefix, by_name[name]) for prefix, name in tree_lines(list(by_name), upstream)]
    from airkube.web.views_pages import run_extras  # (it imports this module)

    extras = run_extras(context.service(request), namespace, dag, detail)
    return _render("run.html", ns=namespace, dag=dag, run=detail, rows=rows, **extras)


@router.get(
    "/ui/namespaces/{namespace}/dags/{dag}/runs/{run}/tasks/{task}/tries/{n}",
    response_class=HTMLResponse,
)
def try_page(
    request: Request,
    namespace: str,
    dag: str,
    run: str,
    task: str,
    n: int,
    start: Annotated[int, Query(ge=0)] = 0,
    tail: bool = False,
) -> HTMLResponse:
    service = context.service(request)
    detail = service.get_try(namespace, dag, run, task, n)
    tries = service.list_tries(namespace, dag, run, task)
    log: Any = None
    log_error = None
    try:
        log = service.get_log(namespace, dag, run, task, n, start=start, limit=LOG_PAGE, tail=tail)
    except DataError as e:  # the page still shows the try when its log cannot be read
        log_error = str(e)
    from airkube.web.views_pages import try_extras  # (it imports this module)

    current = bool(tries.items) and tries.items[-1].try_number == n
    extras = try_extras(service, namespace, dag, run, task, n, current)
    return _render(
        "try.html",
        ns=namespace,
        dag=dag,
        run=run,
        task=task,
        t=detail,
        tries=tries.items,
        log=log,
        log_error=log_error,
        page_size=LOG_PAGE,
        **extras,
    )
